import Foundation

/// How many tokens a sequence drafts this step: as many as pay for
/// themselves. A drafted token costs `cost` of a step whether it is
/// accepted or not; the i-th is accepted with probability p^i, p being the
/// sequence's acceptance, estimated from its own checked drafts and, while
/// it does not draft, from the lookup's free predictions of its next token.
/// So prose, whose drafts rarely hold, stops drafting; a reply that starts
/// quoting its input starts again. Depends on the sequence's own tokens
/// only (never the batch's timing), so a replay drafts the same.
/// Invariant: 0 < acceptance < 1.
struct SpeculationGate: Sendable {
    /// The estimated chance that the next drafted token is right.
    private(set) var acceptance = 0.5
    private(set) var drafted = 0
    private(set) var accepted = 0

    /// The weight of each new observation in `acceptance`.
    static let weight = 0.25
    static let longestDraft = 16
    /// One more position in a one-sequence step costs about a quarter of
    /// the step (SmolLM2-135M, 2 cores: `kvserve bench draft` measured
    /// 0.16-0.29 of a 4 ms step per position).
    static let positionCost = 0.25

    /// What one drafted position costs as a share of a sequence's part of
    /// a step of `decoding` sequences. The step's fixed part (streaming the
    /// weights) is shared by the batch; a position is not, and by four or
    /// five sequences the step is bound by its positions, so a drafted one
    /// costs a whole sequence's share: drafting cannot pay there (measured:
    /// 16 streams drafting at 82% acceptance ran 0.85-0.88x).
    static func cost(decoding: Int) -> Double {
        min(1, positionCost * Double(max(1, decoding)))
    }

    /// The draft length with the most expected tokens per unit of cost
    /// (0: drafting would not pay).
    func length(cost: Double) -> Int {
        var best = 1.0, length = 0, expected = 1.0, chance = 1.0
        for k in 1...Self.longestDraft {
            chance *= acceptance
            expected += chance
            let value = expected / (1 + cost * Double(k))
            if value > best { (best, length) = (value, k) }
        }
        return length
    }

    /// A checked draft of `count` tokens of which the first `taken` held.
    mutating func record(drafted count: Int, accepted taken: Int) {
        drafted += count
        accepted += taken
        for _ in 0..<taken { observe(held: true) }
        if taken < count { observe(held: false) }
    }

    /// One drafted (or predicted) token checked against what was sampled.
    mutating func observe(held: Bool) {
        acceptance += Self.weight * ((held ? 1 : 0) - acceptance)
        // Kept inside (0, 1): certainty either way would never be revised.
        acceptance = min(0.99, max(0.01, acceptance))
    }
}
