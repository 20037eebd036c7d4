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

        var candidates = logits.indices.map { (id: TokenID($0), logit: logits[$0]) }
        // Ties go to the lowest id, as in greedy, so that top-k 1 is greedy.
        candidates.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
        if topK > 0 && topK < candidates.count {
            candidates.removeSubrange(topK...)
        }
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
