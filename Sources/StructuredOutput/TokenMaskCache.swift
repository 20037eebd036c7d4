import Foundation
import Model

/// Token masks of one grammar over one vocabulary, cached by automaton
/// state: states repeat (every byte inside a string, every digit of a
/// number, every object of an array), so after the first visit a step
/// costs a hash lookup. Share one cache among the requests of a schema.
///
/// A mask is computed by walking the trie with the automaton: each trie
/// edge advances a copy of the parent's state by one byte, and the first
/// byte the grammar refuses prunes the subtree.
public final class TokenMaskCache: @unchecked Sendable {
    public let grammar: JSONGrammar
    public let trie: TokenTrie
    /// Tokens that end generation; allowed exactly where the output is complete.
    public let endOfGeneration: [Int32]
    /// Entries are immutable once made; the lock guards the dictionary and counters.
    private let lock = NSLock()
    private var entries: [GrammarState: Entry] = [:]
    /// Entries kept at most; past it the cache starts over.
    public static let capacity = 1024

    /// Counts, for measurements: trie walks done, and masks served from the cache.
    public private(set) var walks = 0
    public private(set) var hits = 0

    /// Everything a state allows, and the distance to completion each token
    /// leaves, kept as what budget steering needs: with `limit` bytes
    /// allowed after the token, tokens farther than it are taken out.
    struct Entry {
        /// Every allowed token, whatever the budget.
        let mask: TokenMask
        /// The state's own distance.
        let here: Int
        /// The longest distance any allowed token leads to.
        let farthest: Int
        /// Tokens that shorten the distance, and tokens that lengthen it (ascending distance).
        let closer: [(distance: Int, token: Int32)]
        let farther: [(distance: Int, token: Int32)]

        func mask(limit: Int, vocabularySize: Int) -> TokenMask {
            if limit >= farthest { return mask }
            if limit < here {
                // Only tokens that bring the end nearer, as near as the budget needs.
                return TokenMask(allowed: Set(closer.filter { $0.distance <= limit }.map(\.token)).sorted(), vocabularySize: vocabularySize)
            }
            let cut = farther.firstIndex { $0.distance > limit } ?? farther.count
            return mask.removing(farther[cut...].map(\.token).sorted())
        }
    }

    public init(grammar: JSONGrammar, trie: TokenTrie, endOfGeneration: some Sequence<TokenID>) {
        self.grammar = grammar
        self.trie = trie
        self.endOfGeneration = Array(endOfGeneration).sorted()
        textualEndOfGeneration = self.endOfGeneration.filter { trie.piece(of: $0) != nil }
    }

    /// End-of-generation tokens that are also in the trie (a model whose
    /// end token is a normal one): kept out of the walk's results.
    private let textualEndOfGeneration: [Int32]

    /// The tokens allowed in `state` when at most `maxBytesAfter` bytes may
    /// remain to completion after the token (budget steering).
    public func mask(for state: GrammarState, maxBytesAfter limit: Int) -> TokenMask {
        lock.lock()
        let cached = entries[state]
        if cached != nil { hits += 1 } else { walks += 1 }
        lock.unlock()
        if let cached { return cached.mask(limit: limit, vocabularySize: trie.vocabularySize) }
        let entry = walk(state)
        lock.lock()
        if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
        entries[state] = entry
        lock.unlock()
        return entry.mask(limit: limit, vocabularySize: trie.vocabularySize)
    }

    func walk(_ state: GrammarState) -> Entry {
        let here = state.bytesToAccept
        var allowed: [Int32] = [], closer: [(distance: Int, token: Int32)] = [], farther: [(distance: Int, token: Int32)] = []
        var farthest = 0
        if state.isAccepting {
            allowed += endOfGeneration
            // Ending is always in budget (it is the last token), whatever the limit.
            closer += endOfGeneration.map { (Int.min, $0) }
        }
        if !state.isComplete {
            var states = [GrammarState](repeating: state, count: trie.maxTokenBytes + 1)
            trie.bytes.withUnsafeBufferPointer { bytes in
            trie.depths.withUnsafeBufferPointer { depths in
            trie.subtreeEnds.withUnsafeBufferPointer { ends in
            trie.tokenStarts.withUnsafeBufferPointer { starts in
                var i = 1
                while i < bytes.count {
                    let d = Int(depths[i])
                    var s = states[d - 1]
                    guard s.advance(bytes[i]) else {
                        i = Int(ends[i])
                        continue
                    }
                    if starts[i] < starts[i + 1] {
                        let distance = s.bytesToAccept
                        let tokens = trie.tokens[Int(starts[i])..<Int(starts[i + 1])]
                        allowed += tokens
                        farthest = max(farthest, distance)
                        if distance < here { closer += tokens.map { (distance, $0) } }
                        if distance > here { farther += tokens.map { (distance, $0) } }
                    }
                    states[d] = s
                    i += 1
                }
            }}}}
        }
        if !textualEndOfGeneration.isEmpty {
            // An end-of-generation token with text of its own ends the output only where it is complete.
            let textual = Set(textualEndOfGeneration), eog = Set(endOfGeneration)
            let accepting = state.isAccepting
            func keep(_ t: Int32) -> Bool { !textual.contains(t) || accepting && eog.contains(t) }
            allowed = Array(Set(allowed.filter(keep)))
            closer = closer.filter { keep($0.token) && ($0.distance == Int.min || !eog.contains($0.token)) }
            farther = farther.filter { !eog.contains($0.token) }
        }
        allowed.sort()
        farther.sort { $0.distance < $1.distance }
        return Entry(mask: TokenMask(allowed: allowed, vocabularySize: trie.vocabularySize), here: here, farthest: farthest,
                     closer: closer, farther: farther)
    }
}
