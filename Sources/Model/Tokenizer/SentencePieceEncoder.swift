/// SentencePiece BPE (`tokenizer.ggml.model` = llama): the text's UTF-8
/// characters are merged pairwise, highest token score first (ties: leftmost),
/// whenever the joined text is a token. Merged pieces are tokens by
/// construction; a single character that is not a token becomes byte tokens.
struct SentencePieceEncoder: Sendable {
    let vocabulary: Vocabulary
    /// `<0xXX>` tokens for byte fallback.
    let byteTokens: [TokenID?]

    init(vocabulary: Vocabulary) {
        self.vocabulary = vocabulary
        let hex = Array("0123456789ABCDEF".utf8)
        byteTokens = (0..<256).map { b in
            let name: [UInt8] = Array("<0x".utf8) + [hex[b >> 4], hex[b & 15], UInt8(ascii: ">")]
            return vocabulary.id(of: name) ?? vocabulary.id(of: [UInt8(b)])
        }
    }

    private struct Symbol {
        var start: Int
        var length: Int
        var prev: Int
        var next: Int
    }

    private struct Pair {
        let score: Float
        let left: Int
        let right: Int
        let length: Int
    }

    /// Appends the tokens of `text` (already whitespace-escaped UTF-8).
    func encode(_ text: [UInt8], into output: inout [TokenID]) {
        var symbols: [Symbol] = []
        var offset = 0
        while offset < text.count {
            let length = min(Self.utf8Length(lead: text[offset]), text.count - offset)
            symbols.append(Symbol(start: offset, length: length, prev: symbols.count - 1, next: -1))
            offset += length
            if offset < text.count { symbols[symbols.count - 1].next = symbols.count }
        }
        guard !symbols.isEmpty else { return }

        var queue = MinHeap<Pair> { a, b in a.score > b.score || (a.score == b.score && a.left < b.left) }
        func consider(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let start = symbols[left].start, length = symbols[left].length + symbols[right].length
            let joined = Array(text[start..<(start + length)])
            guard let id = vocabulary.id(of: joined) else { return }
            queue.push(Pair(score: vocabulary.scores[Int(id)], left: left, right: right, length: length))
        }
        for i in 1..<symbols.count { consider(i - 1, i) }

        while let pair = queue.pop() {
            let left = symbols[pair.left], right = symbols[pair.right]
            guard left.length > 0, right.length > 0, left.length + right.length == pair.length else { continue }
            symbols[pair.left].length += right.length
            symbols[pair.right].length = 0
            symbols[pair.left].next = right.next
            if right.next >= 0 { symbols[right.next].prev = pair.left }
            consider(left.prev, pair.left)
            consider(pair.left, right.next)
        }

        var i = 0
        while i != -1 {
            let symbol = symbols[i]
            let piece = Array(text[symbol.start..<(symbol.start + symbol.length)])
            if let id = vocabulary.id(of: piece) {
                output.append(id)
            } else {
                for b in piece {
                    if let id = byteTokens[Int(b)] ?? vocabulary.unknown { output.append(id) }
                }
            }
            i = symbol.next
        }
    }

    /// Bytes in the UTF-8 sequence a lead byte starts (1 for stray continuation bytes).
    static func utf8Length(lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }
}
