import Foundation
import Model

/// Picks one token from logits. Greedy at temperature 0 (ties: lowest id);
/// otherwise the repetition, presence and frequency penalties, then top-k, temperature, top-p and
/// min-p filter the candidates and one is drawn with the seeded generator,
/// so a seed makes sampling reproducible run to run.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var random: SplitMix64

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        random = SplitMix64(seed: parameters.seed ?? UInt64.random(in: .min ... .max))
    }

    /// - history: tokens the repetition penalty applies to.
    public mutating func sample(_ logits: [Float], history: [TokenID] = []) -> TokenID {
        var logits = logits
        if parameters.repeatPenalty != 1 {
            // As in CTRL: divide positive logits, multiply negative ones.
            for id in Set(history) where Int(id) < logits.count {
                let l = logits[Int(id)]
                logits[Int(id)] = l > 0 ? l / parameters.repeatPenalty : l * parameters.repeatPenalty
            }
        }
        if parameters.presencePenalty != 0 || parameters.frequencyPenalty != 0 {
            var counts: [TokenID: Int] = [:]
            for id in history { counts[id, default: 0] += 1 }
            for (id, n) in counts where Int(id) < logits.count {
                logits[Int(id)] -= parameters.presencePenalty + parameters.frequencyPenalty * Float(n)
            }
        }
        if parameters.isGreedy { return argmax(logits) }

        var candidates = logits.indices.map { (id: TokenID($0), logit: logits[$0]) }
        candidates.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
        if parameters.topK > 0 && parameters.topK < candidates.count {
            candidates.removeSubrange(parameters.topK...)
        }
        let top = candidates[0].logit
        var probabilities = candidates.map { expf(($0.logit - top) / parameters.temperature) }
        var total = probabilities.reduce(0, +)
        // top-p: the smallest prefix whose probability reaches p.
        if parameters.topP < 1 {
            var cumulative: Float = 0
            for (i, p) in probabilities.enumerated() {
                cumulative += p / total
                if cumulative >= parameters.topP { probabilities.removeSubrange((i + 1)...); break }
            }
        }
        // min-p: drop what is below min_p times the most likely candidate.
        if parameters.minP > 0 {
            let floor = parameters.minP * probabilities[0]
            if let cut = probabilities.firstIndex(where: { $0 < floor }) { probabilities.removeSubrange(cut...) }
        }
        total = probabilities.reduce(0, +)
        var draw = Float(Double(random.next() >> 11) / Double(1 << 53)) * total
        for (i, p) in probabilities.enumerated() {
            draw -= p
            if draw < 0 { return candidates[i].id }
        }
        return candidates[probabilities.count - 1].id
    }
}
