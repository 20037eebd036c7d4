/// Turns a stream of tokens into text that only ever contains whole UTF-8
/// characters: a token that ends inside a multi-byte character (byte-level
/// BPE splits emoji and CJK across tokens) is held until the character
/// completes. Bytes that can never form a character become U+FFFD.
public struct IncrementalDetokenizer: Sendable {
    private let tokenizer: Tokenizer
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer) {
        self.tokenizer = tokenizer
    }

    /// The text that `id` completes (possibly empty).
    public mutating func append(_ id: TokenID) -> String {
        append(bytes: tokenizer.piece(id))
    }

    /// Feeds raw bytes; returns the complete characters now available.
    public mutating func append(bytes: [UInt8]) -> String {
        pending += bytes
        let (complete, rest) = Self.splitCompleteCharacters(pending)
        pending = rest
        return complete
    }

    /// Whatever is still held, as text; call once at the end of a stream.
    public mutating func finish() -> String {
        defer { pending = [] }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Text of the longest prefix that ends on a character boundary, and the
    /// trailing bytes that may still become a character.
    static func splitCompleteCharacters(_ bytes: [UInt8]) -> (String, [UInt8]) {
        var i = 0
        var text = ""
        var validStart = 0
        func flushValid(upTo end: Int) {
            if end > validStart { text += String(decoding: bytes[validStart..<end], as: UTF8.self) }
        }
        while i < bytes.count {
            let length = expectedLength(lead: bytes[i])
            if length == 0 {  // a byte no character starts with
                flushValid(upTo: i)
                text += "\u{FFFD}"
                i += 1
                validStart = i
                continue
            }
            var j = 1
            while j < length, i + j < bytes.count, isValidContinuation(bytes, at: i, index: j) { j += 1 }
            if j == length {
                i += length
            } else if i + j == bytes.count {
                // An incomplete but so far valid character at the end: hold it.
                flushValid(upTo: i)
                return (text, Array(bytes[i...]))
            } else {
                flushValid(upTo: i)
                text += "\u{FFFD}"
                i += j
                validStart = i
            }
        }
        flushValid(upTo: bytes.count)
        return (text, [])
    }

    /// Sequence length for a lead byte, 0 if it cannot start a character.
    static func expectedLength(lead: UInt8) -> Int {
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: return 2
        case 0xE0...0xEF: return 3
        case 0xF0...0xF4: return 4
        default: return 0
        }
    }

    /// Whether byte `index` of the sequence starting at `start` is allowed
    /// (rules out overlong forms, surrogates and values past U+10FFFF).
    static func isValidContinuation(_ bytes: [UInt8], at start: Int, index: Int) -> Bool {
        let b = bytes[start + index]
        guard b & 0xC0 == 0x80 else { return false }
        guard index == 1 else { return true }
        switch bytes[start] {
        case 0xE0: return b >= 0xA0
        case 0xED: return b <= 0x9F
        case 0xF0: return b >= 0x90
        case 0xF4: return b <= 0x8F
        default: return true
        }
    }
}
