import Foundation
import Model

/// The tokens one sampling step chooses among, most likely first (equal
/// logits: lowest id first), and the probability of each (adding up to 1).
public struct SamplingCandidates: Sendable, Equatable {
    public var ids: [TokenID]
    public var probabilities: [Float]
}

extension SamplingParameters {
    /// What a draw chooses among after `history`: the repetition, presence
    /// and frequency penalties, then the largest logit alone when greedy,
    /// else top-k, temperature, top-p and min-p. Temperature comes before
    /// top-p and min-p (as in Hugging Face transformers and vLLM; llama.cpp's
    /// default chain applies it last), so a request's top-p and min-p speak
    /// of the distribution it is actually sampled from.
    public func candidates(_ logits: [Float], history: [TokenID] = []) -> SamplingCandidates {
        let logits = penalized(logits, history: history)
        if isGreedy { return SamplingCandidates(ids: [argmax(logits)], probabilities: [1]) }

        let candidates = topK > 0 && topK < logits.count ? Self.best(topK, of: logits) : Self.ranked(logits)
        let top = candidates[0].logit
        var probabilities = candidates.map { expf(($0.logit - top) / temperature) }
        // Sums in Double: a vocabulary's long tail of tiny probabilities
        // would otherwise round away one by one into a Float total.
        let total = probabilities.reduce(0) { $0 + Double($1) }
        // top-p: the shortest prefix whose probability reaches p (a prefix
        // landing exactly on p is the nucleus, as the nucleus sampling paper
        // and llama.cpp define it; p = 0 keeps the most likely token).
        if topP < 1 {
            var cumulative = 0.0
            for (i, p) in probabilities.enumerated() {
                cumulative += Double(p)
                if cumulative >= Double(topP) * total { probabilities.removeSubrange((i + 1)...); break }
            }
        }
        // min-p: drop what is below min_p times the most likely candidate
        // (equal stays, as llama.cpp keeps a logit equal to max + log(min_p)).
        if minP > 0 {
            let floor = minP * probabilities[0]
            if let cut = probabilities.firstIndex(where: { $0 < floor }) { probabilities.removeSubrange(cut...) }
        }
        let kept = probabilities.reduce(0) { $0 + Double($1) }
        return SamplingCandidates(ids: candidates.prefix(probabilities.count).map(\.id),
                                  probabilities: probabilities.map { Float(Double($0) / kept) })
    }

    /// Ties go to the lowest id, as in greedy, so that top-k 1 is greedy.
    static func precedes(_ a: (id: TokenID, logit: Float), _ b: (id: TokenID, logit: Float)) -> Bool {
        a.logit > b.logit || (a.logit == b.logit && a.id < b.id)
    }

    /// Every token, most likely first.
    static func ranked(_ logits: [Float]) -> [(id: TokenID, logit: Float)] {
        logits.indices.map { (id: TokenID($0), logit: logits[$0]) }.sorted(by: precedes)
    }

    /// The first `k` of `ranked(logits)`, without sorting the vocabulary (a
    /// sort of 49k candidates took milliseconds a token): a sorted list of
    /// the best so far, which most tokens fail to enter at the first compare.
    static func best(_ k: Int, of logits: [Float]) -> [(id: TokenID, logit: Float)] {
        var kept: [(id: TokenID, logit: Float)] = []
        kept.reserveCapacity(k + 1)
        for (i, logit) in logits.enumerated() {
            let candidate = (id: TokenID(i), logit: logit)
            // Ids rise through the loop: an equal logit never enters ahead of one kept.
            if kept.count == k && !(logit > kept[k - 1].logit) { continue }
            var low = 0, high = kept.count
            while low < high {
                let mid = (low + high) / 2
                if precedes(kept[mid], candidate) { low = mid + 1 } else { high = mid }
            }
            kept.insert(candidate, at: low)
            if kept.count > k { kept.removeLast() }
        }
        return kept
    }

    /// The logits after the penalties for what `history` holds.
    func penalized(_ logits: [Float], history: [TokenID]) -> [Float] {
        var logits = logits
        if repeatPenalty != 1 {
            // As in CTRL: divide positive logits, multiply negative ones.
            for id in Set(history) where Int(id) < logits.count {
                let l = logits[Int(id)]
                logits[Int(id)] = l > 0 ? l / repeatPenalty : l * repeatPenalty
            }
        }
        if presencePenalty != 0 || frequencyPenalty != 0 {
            var counts: [TokenID: Int] = [:]
            for id in history { counts[id, default: 0] += 1 }
            for (id, n) in counts where Int(id) < logits.count {
                logits[Int(id)] -= presencePenalty + frequencyPenalty * Float(n)
            }
        }
        return logits
    }
}
