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

    /// The token of a position whose drafted token is `draft`, by
    /// speculative sampling's rule for a draft that proposes one token for
    /// certain: `draft` with its probability p(draft), else a draw from the
    /// other candidates in proportion to theirs. A token t other than the
    /// draft comes out with (1 - p(draft)) * p(t) / (1 - p(draft)) = p(t),
    /// so the stream follows the same distribution as `sample`; greedy
    /// takes the most likely token, as `sample` does.
    public mutating func sample(_ logits: [Float], history: [TokenID] = [], draft: TokenID) -> TokenID {
        let candidates = parameters.candidates(logits, history: history)
        if parameters.isGreedy { return candidates.ids[0] }
        guard let d = candidates.ids.firstIndex(of: draft) else { return draw(from: candidates) }
        if uniform() < Double(candidates.probabilities[d]) { return draft }
        var others = candidates
        others.ids.remove(at: d)
        others.probabilities.remove(at: d)
        return others.ids.isEmpty ? draft : draw(from: others)
    }

    /// A uniform number in [0, 1) of 53 random bits.
    private mutating func uniform() -> Double { Double(random.next() >> 11) / Double(1 << 53) }

    /// One candidate, with its probability: the first whose cumulative
    /// probability passes a uniform number (the probabilities need not add up to 1).
    mutating func draw(from candidates: SamplingCandidates) -> TokenID {
        let total = candidates.probabilities.reduce(0, +)
        var draw = Float(uniform()) * total
        for (i, p) in candidates.probabilities.enumerated() {
            draw -= p
            if draw < 0 { return candidates.ids[i] }
        }
        return candidates.ids[candidates.ids.count - 1]
    }
}
