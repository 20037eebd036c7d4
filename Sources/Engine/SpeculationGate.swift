/// Whether a sequence drafts this step: it stops after drafts keep
/// failing (prose rarely repeats itself), and tries again later, waiting
/// longer each time it fails again. Invariant: `skip >= 0`.
struct SpeculationGate: Sendable {
    /// Drafts in a row of which nothing was accepted.
    private(set) var misses = 0
    /// Steps left before the next draft.
    private(set) var skip = 0
    private(set) var drafted = 0
    private(set) var accepted = 0

    static let missesBeforeClosing = 2
    static let longestPause = 64

    mutating func opens() -> Bool {
        guard skip == 0 else { skip -= 1; return false }
        return true
    }

    mutating func record(drafted count: Int, accepted taken: Int) {
        drafted += count
        accepted += taken
        guard taken == 0 else { misses = 0; return }
        misses += 1
        if misses >= Self.missesBeforeClosing {
            skip = min(Self.longestPause, 4 << (misses - Self.missesBeforeClosing))
        }
    }
}
