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
    /// One more position in a one-sequence step costs about a fifth of the
    /// step (SmolLM2-135M, 2 cores: 3.4 ms a step, +0.7 ms a position).
    static let positionCost = 0.2

    /// What one drafted position costs as a share of a sequence's part of
    /// a step of `decoding` sequences: the step's fixed part (streaming the
    /// weights) is shared, the positions are not.
    static func cost(decoding: Int) -> Double {
        let b = Double(max(1, decoding))
        return positionCost * b / (1 + positionCost * (b - 1))
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
