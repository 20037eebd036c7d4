import Foundation
import Model

/// Picks one token from logits: the candidates `SamplingParameters.candidates`
/// leaves (greedy at temperature 0, ties: lowest id), one of them drawn with
/// the seeded generator, so a seed makes sampling reproducible run to run.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var random: SplitMix64

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        random = SplitMix64(seed: parameters.seed ?? UInt64.random(in: .min ... .max))
    }

    /// - history: tokens the penalties apply to.
    public mutating func sample(_ logits: [Float], history: [TokenID] = []) -> TokenID {
        let candidates = parameters.candidates(logits, history: history)
        if parameters.isGreedy { return candidates.ids[0] }
        return draw(from: candidates)
    }

    /// One candidate, with its probability: the first whose cumulative
    /// probability passes a uniform number of 53 random bits.
    mutating func draw(from candidates: SamplingCandidates) -> TokenID {
        let total = candidates.probabilities.reduce(0, +)
        var draw = Float(Double(random.next() >> 11) / Double(1 << 53)) * total
        for (i, p) in candidates.probabilities.enumerated() {
            draw -= p
            if draw < 0 { return candidates.ids[i] }
        }
        return candidates.ids[candidates.ids.count - 1]
    }
}
