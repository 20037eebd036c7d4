import Model

/// One request's constraint: where its output is in the grammar, and the
/// mask for its next token. Only generated tokens go through it (a
/// session's history and the prompt do not), so a constrained turn
/// continues a session like any other.
///
/// Budget: the mask keeps the shortest completion, in bytes, within the
/// tokens left minus one for end-of-generation. One token can always
/// shorten it by a byte (single-byte tokens exist for every byte value in
/// the supported vocabularies), so the output completes within max_tokens.
public struct OutputConstraint: Sendable {
    public let masks: TokenMaskCache
    public private(set) var state: GrammarState

    public init(_ masks: TokenMaskCache) {
        self.masks = masks
        state = GrammarState(masks.grammar)
    }

    /// The fewest tokens any valid output takes, end-of-generation included:
    /// a smaller max_tokens is refused up front.
    public var minimumTokens: Int { state.bytesToAccept + 1 }

    public static func minimumTokens(_ grammar: JSONGrammar) -> Int { grammar.minimumOutputBytes + 1 }

    public var isAccepting: Bool { state.isAccepting }
    /// Nothing may follow but end-of-generation.
    public var isComplete: Bool { state.isComplete }

    /// The tokens allowed next, when `remainingTokens` (this one included) may still be generated.
    public func mask(remainingTokens: Int) -> TokenMask {
        masks.mask(for: state, maxBytesAfter: remainingTokens - 2)
    }

    /// Advances past a generated token; false if the grammar refuses it
    /// (the state is then unchanged). End-of-generation is accepted when the
    /// output is complete.
    public mutating func accept(_ token: TokenID) -> Bool {
        if masks.endOfGeneration.contains(token) { return state.isAccepting }
        guard let piece = masks.trie.piece(of: token) else { return false }
        var next = state
        guard next.advance(piece) else { return false }
        state = next
        return true
    }
}
