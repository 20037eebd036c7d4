/// Byte-level BPE (`tokenizer.ggml.model` = gpt2): a word's bytes become
/// byte-level characters, then the adjacent pair with the lowest merge rank
/// is merged until no ranked pair remains (ties: leftmost first).
struct BytePairEncoder: Sendable {
    struct Merge: Sendable {
        let rank: Int32
        let result: TokenID
    }

    let vocabulary: Vocabulary
    /// (left id, right id) packed into 64 bits -> rank and merged token.
    let merges: [UInt64: Merge]
    /// The token for each byte's byte-level character, or -1.
    let byteTokens: [TokenID]
    /// Llama 3 style: a word that is itself a token is not merged piecewise.
    let ignoreMerges: Bool
    /// Merges whose parts or result are not tokens; they can never apply to
    /// token symbols, so they are dropped (reported by `kvserve inspect`).
    let droppedMerges: Int

    init(vocabulary: Vocabulary, mergeLines: [[UInt8]], ignoreMerges: Bool) {
        self.vocabulary = vocabulary
        self.ignoreMerges = ignoreMerges
        var table: [UInt64: Merge] = [:]
        table.reserveCapacity(mergeLines.count)
        var dropped = 0
        for (rank, line) in mergeLines.enumerated() {
            // "left right": split at the first space after the first byte.
            guard line.count > 2, let space = line[1...].firstIndex(of: 0x20),
                  let left = vocabulary.id(of: Array(line[..<space])),
                  let right = vocabulary.id(of: Array(line[(space + 1)...])),
                  let result = vocabulary.id(of: Array(line[..<space]) + Array(line[(space + 1)...]))
            else { dropped += 1; continue }
            let key = Self.key(left, right)
            if table[key] == nil { table[key] = Merge(rank: Int32(rank), result: result) }
        }
        merges = table
        droppedMerges = dropped
        byteTokens = ByteLevel.encodedByte.map { vocabulary.id(of: $0) ?? -1 }
    }

    @inline(__always)
    static func key(_ left: TokenID, _ right: TokenID) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    private struct Symbol {
        var token: TokenID
        var prev: Int
        var next: Int
        var alive = true
    }

    private struct Pair {
        let rank: Int32
        let left: Int
        let right: Int
        let leftToken: TokenID
        let rightToken: TokenID
    }

    /// Appends the tokens of one pre-tokenized word (raw UTF-8 bytes).
    func encode(word: [UInt8], into output: inout [TokenID]) {
        if ignoreMerges {
            let text = word.flatMap { ByteLevel.encodedByte[Int($0)] }
            if let id = vocabulary.id(of: text) { output.append(id); return }
        }
        var symbols = word.enumerated().map { i, b in
            Symbol(token: byteTokens[Int(b)], prev: i - 1, next: i + 1 == word.count ? -1 : i + 1)
        }
        var queue = MinHeap<Pair> { a, b in a.rank < b.rank || (a.rank == b.rank && a.left < b.left) }
        func consider(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let l = symbols[left].token, r = symbols[right].token
            guard l >= 0, r >= 0, let merge = merges[Self.key(l, r)] else { return }
            queue.push(Pair(rank: merge.rank, left: left, right: right, leftToken: l, rightToken: r))
        }
        for i in 1..<max(symbols.count, 1) { consider(i - 1, i) }

        while let pair = queue.pop() {
            let left = symbols[pair.left], right = symbols[pair.right]
            // Stale once either side has merged with something else.
            guard left.alive, right.alive, left.next == pair.right,
                  left.token == pair.leftToken, right.token == pair.rightToken else { continue }
            symbols[pair.left].token = merges[Self.key(pair.leftToken, pair.rightToken)]!.result
            symbols[pair.right].alive = false
            symbols[pair.left].next = right.next
            if right.next >= 0 { symbols[right.next].prev = pair.left }
            consider(left.prev, pair.left)
            consider(pair.left, right.next)
        }

        for (i, symbol) in symbols.enumerated() where symbol.alive {
            if symbol.token >= 0 {
                output.append(symbol.token)
            } else {
                // A byte with no token of its own: the reference looks up each
                // raw byte of its character and keeps what it finds.
                for b in ByteLevel.encodedByte[Int(word[i])] {
                    if let id = vocabulary.id(of: [b]) { output.append(id) }
                }
            }
        }
    }
}
