import Model

/// The vocabulary's token byte strings as a trie, laid out in preorder so a
/// walk is a loop over arrays: node i's subtree is i..<subtreeEnd[i], and a
/// rejected byte skips the whole subtree (every token with that prefix).
/// Control, unknown and unused tokens are left out: constrained output never
/// contains them (end-of-generation is added by the mask separately).
public final class TokenTrie: Sendable {
    /// Node 0 is the root (the empty prefix); the others in preorder.
    let bytes: [UInt8]
    let depths: [UInt16]
    let subtreeEnds: [Int32]
    /// Tokens ending at node i: tokens[tokenStarts[i] ..< tokenStarts[i + 1]].
    let tokenStarts: [Int32]
    let tokens: [Int32]
    /// Each token's bytes; nil for tokens left out.
    let pieces: [[UInt8]?]
    public let vocabularySize: Int
    public let maxTokenBytes: Int

    public var nodeCount: Int { bytes.count }

    /// The trie of a model's tokenizer: normal and byte tokens, as the bytes they decode to.
    public convenience init(tokenizer: Tokenizer) {
        let v = tokenizer.vocabulary
        self.init(pieces: (0..<v.count).map { i -> [UInt8]? in
            let kind = v.kind(of: TokenID(i))
            guard kind == .normal || kind == .byte else { return nil }
            let piece = tokenizer.piece(TokenID(i), special: false)
            return piece.isEmpty ? nil : piece
        })
    }

    /// pieces[id]: the bytes of token `id`, nil if it may never be chosen.
    public init(pieces: [[UInt8]?]) {
        self.pieces = pieces
        vocabularySize = pieces.count
        let sorted = pieces.indices.filter { pieces[$0] != nil }
            .sorted { pieces[$0]!.lexicographicallyPrecedes(pieces[$1]!) || pieces[$0]! == pieces[$1]! && $0 < $1 }
        var bytes: [UInt8] = [0], depths: [UInt16] = [0], ends: [Int32] = [0]
        var nodeOfToken: [(node: Int32, id: Int32)] = []
        var path: [Int] = [0]  // node at each depth of the previous piece
        var previous: [UInt8] = []
        for id in sorted {
            let piece = pieces[id]!
            var common = 0
            while common < min(piece.count, previous.count) && piece[common] == previous[common] { common += 1 }
            while path.count > common + 1 { ends[path.removeLast()] = Int32(bytes.count) }
            for d in common..<piece.count {
                path.append(bytes.count)
                bytes.append(piece[d])
                depths.append(UInt16(d + 1))
                ends.append(0)
            }
            nodeOfToken.append((Int32(path.last!), Int32(id)))
            previous = piece
        }
        for node in path { ends[node] = Int32(bytes.count) }
        // Tokens were met in node order (a node is made by the first piece reaching it).
        var starts = [Int32](repeating: 0, count: bytes.count + 1)
        for (node, _) in nodeOfToken { starts[Int(node) + 1] += 1 }
        for i in 0..<bytes.count { starts[i + 1] += starts[i] }
        self.bytes = bytes
        self.depths = depths
        subtreeEnds = ends
        tokenStarts = starts
        tokens = nodeOfToken.map(\.id)
        maxTokenBytes = Int(depths.max() ?? 0)
    }

    /// The bytes of a token, nil if it is not in the trie.
    public func piece(of token: TokenID) -> [UInt8]? {
        Int(token) < pieces.count && token >= 0 ? pieces[Int(token)] : nil
    }

    /// Byte values no single token stands for. Budget steering counts one
    /// token per byte of the shortest completion, which holds when this is
    /// empty (as for SmolLM2's and Gemma 3's vocabularies).
    public var bytesWithoutSingleToken: [UInt8] {
        var has = [Bool](repeating: false, count: 256)
        for p in pieces { if let p, p.count == 1 { has[Int(p[0])] = true } }
        return (0..<256).filter { !has[$0] }.map(UInt8.init)
    }
}
