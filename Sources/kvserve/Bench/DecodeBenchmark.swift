import Foundation
import Model

/// Measures the forward pass the way llama-bench does: random token ids, no
/// sampling, one sequence, wall-clock time per call.
struct DecodeBenchmark {
    let model: DecoderModel
    let vocabularySize: Int
    /// How the measured cache stores keys and values.
    let elementType: KVElementType
    var rng = SplitMix64(seed: 2026)

    init(model: DecoderModel, elementType: KVElementType = .f16) {
        self.model = model
        self.elementType = elementType
        vocabularySize = model.vocabularySize
    }

    mutating func randomTokens(_ count: Int) -> [TokenID] {
        (0..<count).map { _ in TokenID(rng.next() % UInt64(vocabularySize)) }
    }

    func arena(positions: Int) -> (KVArena, [Int32]) {
        let blockSize = 16
        let blocks = (positions + blockSize - 1) / blockSize
        let arena = KVArena(hyperparameters: model.hyperparameters, elementType: elementType, blockSize: blockSize, blockCount: max(1, blocks))
        return (arena, (0..<Int32(max(1, blocks))).map { $0 })
    }

    static func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Seconds to prefill `count` tokens into an empty cache, once per repetition.
    mutating func prefill(_ count: Int, repetitions: Int) -> [Double] {
        let (cache, table) = arena(positions: count)
        return (0..<repetitions).map { _ in
            let tokens = randomTokens(count)
            return Self.seconds { _ = model.forward([ForwardSequence(tokens: tokens, startPosition: 0, blockTable: table)], cache: cache) }
        }
    }

    /// Seconds of each cached decoding step, for positions 0..<`positions`,
    /// one token per call; `progress` is told every 256 positions.
    mutating func cachedSteps(_ positions: Int, progress: (Int) -> Void) -> [Double] {
        let (cache, table) = arena(positions: positions)
        let tokens = randomTokens(positions)
        var times: [Double] = []
        times.reserveCapacity(positions)
        for p in 0..<positions {
            times.append(Self.seconds {
                _ = model.forward([ForwardSequence(tokens: [tokens[p]], startPosition: p, blockTable: table)], cache: cache)
            })
            if (p + 1) % 256 == 0 { progress(p + 1) }
        }
        return times
    }

    /// Seconds to produce the token at `position` without a cache: the whole
    /// sequence of `position + 1` tokens recomputed, as every step would be.
    mutating func uncachedStep(at position: Int) -> Double {
        let (cache, table) = arena(positions: position + 1)
        let tokens = randomTokens(position + 1)
        return Self.seconds { _ = model.forward([ForwardSequence(tokens: tokens, startPosition: 0, blockTable: table)], cache: cache) }
    }
}

/// Statistics over repeated timings.
extension Array where Element == Double {
    var mean: Double { isEmpty ? .nan : reduce(0, +) / Double(count) }

    var standardDeviation: Double {
        guard count > 1 else { return 0 }
        let m = mean
        return (map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(count - 1)).squareRoot()
    }

    var median: Double {
        guard !isEmpty else { return .nan }
        let s = sorted()
        return count % 2 == 1 ? s[count / 2] : (s[count / 2 - 1] + s[count / 2]) / 2
    }
}
