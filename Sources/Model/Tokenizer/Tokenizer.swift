/// Text to token ids and back, as the model's GGUF metadata defines it.
///
/// Encoding: special tokens are cut out of the text first (longest first);
/// each remaining stretch is pre-tokenized and byte-pair encoded on its own.
public struct Tokenizer: Sendable {
    public let vocabulary: Vocabulary
    public let preTokenizer: PreTokenizer?
    private let encoder: Encoder
    /// Control, user-defined and unknown tokens, longest text first.
    private let specialTokens: [(text: [UInt8], id: TokenID, kind: TokenKind)]

    private enum Encoder: Sendable {
        case bytePair(BytePairEncoder)
        case sentencePiece(SentencePieceEncoder)
    }

    public init(_ gguf: GGUFFile) throws {
        try self.init(vocabulary: Vocabulary(gguf), gguf: gguf)
    }

    init(vocabulary: Vocabulary, gguf: GGUFFile) throws {
        self.vocabulary = vocabulary
        switch vocabulary.model {
        case .bytePairEncoding:
            let name = vocabulary.preTokenizerName ?? "(missing)"
            guard let pre = PreTokenizer.named(name) else {
                throw GGUFError.valueOutOfRange(key: "tokenizer.ggml.pre",
                    reason: "pre-tokenizer '\(name)' is not one kvserve implements (\(PreTokenizer.supportedNames.joined(separator: ", ")))")
            }
            preTokenizer = pre
            let merges = try gguf.array("tokenizer.ggml.merges", of: .string).byteStrings()!
            let ignoreMerges = pre.stages == [.llama3(digitGroup: 3)]
            encoder = .bytePair(BytePairEncoder(vocabulary: vocabulary, mergeLines: merges, ignoreMerges: ignoreMerges))
        case .sentencePiece:
            preTokenizer = nil
            encoder = .sentencePiece(SentencePieceEncoder(vocabulary: vocabulary))
        }
        specialTokens = vocabulary.kinds.indices
            .filter { vocabulary.kinds[$0].isSpecial && !vocabulary.texts[$0].isEmpty }
            .map { (vocabulary.texts[$0], TokenID($0), vocabulary.kinds[$0]) }
            .sorted { $0.text.count > $1.text.count || ($0.text.count == $1.text.count && $0.id < $1.id) }
    }

    /// Merges whose parts are not tokens (see BytePairEncoder.droppedMerges).
    public var droppedMerges: Int {
        if case let .bytePair(bpe) = encoder { return bpe.droppedMerges }
        return 0
    }

    public var kindDescription: String {
        switch encoder {
        case .bytePair: return "byte-level BPE (gpt2), pre-tokenizer \(preTokenizer!.name)"
        case .sentencePiece: return "SentencePiece BPE (llama), byte fallback, add_space_prefix \(vocabulary.addSpacePrefix)"
        }
    }

    /// Token ids for `text`.
    /// - addSpecial: add BOS/EOS where the model asks for them.
    /// - parseSpecial: let control tokens written in the text (such as
    ///   `<|im_start|>`) become their ids; otherwise they are plain text.
    public func encode(_ text: String, addSpecial: Bool = false, parseSpecial: Bool = false) -> [TokenID] {
        encode(PromptText([parseSpecial ? .markup(text) : .text(text)]), addSpecial: addSpecial)
    }

    /// Token ids for a rendered prompt: control tokens are parsed in its
    /// markup only, and known ids are taken as they are. Text on both sides
    /// of a piece boundary is tokenized as one run, so the ids are those of
    /// the whole text whenever its messages spell no control token.
    public func encode(_ prompt: PromptText, addSpecial: Bool = false) -> [TokenID] {
        var output: [TokenID] = []
        if addSpecial, vocabulary.addBOS, let bos = vocabulary.bos { output.append(bos) }
        var previousWasSpecial = true
        for fragment in fragments(of: prompt) {
            switch fragment {
            case let .special(ids):
                output.append(contentsOf: ids)
                previousWasSpecial = true
            case let .text(bytes):
                switch encoder {
                case let .bytePair(bpe):
                    let scalars = String(decoding: bytes, as: UTF8.self).unicodeScalars.map(\.value)
                    for word in preTokenizer!.split(scalars) {
                        var utf8: [UInt8] = []
                        for v in scalars[word] { utf8.append(contentsOf: Unicode.Scalar(v)!.utf8) }
                        bpe.encode(word: utf8, into: &output)
                    }
                case let .sentencePiece(spm):
                    var escaped: [UInt8] = vocabulary.addSpacePrefix && previousWasSpecial ? Self.escapedSpace : []
                    for b in bytes { if b == 0x20 { escaped += Self.escapedSpace } else { escaped.append(b) } }
                    spm.encode(escaped, into: &output)
                }
                previousWasSpecial = false
            }
        }
        if addSpecial, vocabulary.addEOS, let eos = vocabulary.eos { output.append(eos) }
        return output
    }

    /// The prompt's pieces cut at control tokens, with neighbouring text joined.
    private func fragments(of prompt: PromptText) -> [Fragment] {
        var joined: [Fragment] = []
        func add(_ fragment: Fragment) {
            if case let .text(bytes) = fragment, case let .text(before)? = joined.last {
                joined[joined.count - 1] = .text((Array(before) + bytes)[...])
            } else {
                joined.append(fragment)
            }
        }
        for piece in prompt.pieces {
            switch piece {
            case .markup(let s): fragments(of: Array(s.utf8), parseSpecial: true).forEach(add)
            case .content(let s, _), .text(let s): fragments(of: Array(s.utf8), parseSpecial: false).forEach(add)
            case .tokens(let ids): if !ids.isEmpty { add(.special(ids)) }
            }
        }
        return joined
    }

    /// SentencePiece writes spaces as U+2581 LOWER ONE EIGHTH BLOCK.
    static let escapedSpace: [UInt8] = [0xE2, 0x96, 0x81]

    private enum Fragment {
        case text(ArraySlice<UInt8>)
        /// Control tokens, or ids known beforehand.
        case special([TokenID])
    }

    /// Cuts special tokens out of the text, longest token first, each one
    /// everywhere it occurs in what is still plain text.
    private func fragments(of bytes: [UInt8], parseSpecial: Bool) -> [Fragment] {
        var fragments: [Fragment] = bytes.isEmpty ? [] : [.text(bytes[...])]
        for token in specialTokens {
            if !parseSpecial && token.kind != .userDefined { continue }
            var next: [Fragment] = []
            next.reserveCapacity(fragments.count)
            for fragment in fragments {
                guard case var .text(rest) = fragment else { next.append(fragment); continue }
                while let match = Self.firstRange(of: token.text, in: rest) {
                    if match.lowerBound > rest.startIndex { next.append(.text(rest[..<match.lowerBound])) }
                    next.append(.special([token.id]))
                    rest = rest[match.upperBound...]
                }
                if !rest.isEmpty { next.append(.text(rest)) }
            }
            fragments = next
        }
        return fragments
    }

    private static func firstRange(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Range<Int>? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var i = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while i <= last {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) {
                return i..<(i + needle.count)
            }
            i += 1
        }
        return nil
    }

    /// The bytes a token stands for. Control tokens give their text when
    /// `special` is true and nothing otherwise.
    public func piece(_ id: TokenID, special: Bool = true) -> [UInt8] {
        guard vocabulary.contains(id) else { return [] }
        let text = vocabulary.text(of: id)
        switch vocabulary.kind(of: id) {
        case .control:
            return special ? text : []
        case .unknown:
            // SentencePiece's unknown piece is shown as U+2585.
            guard special else { return [] }
            return vocabulary.model == .sentencePiece ? Array("\u{2585}".utf8) : text
        case .userDefined:
            return text
        case .unused:
            return []
        case .byte:
            // "<0xXX>"
            guard text.count == 6, let b = UInt8(String(decoding: text[3..<5], as: UTF8.self), radix: 16) else { return text }
            return [b]
        case .normal:
            switch vocabulary.model {
            case .bytePairEncoding: return ByteLevel.decode(text)
            case .sentencePiece: return Self.unescapeSpaces(text)
            }
        }
    }

    static func unescapeSpaces(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if i + 2 < text.count, text[i] == 0xE2, text[i + 1] == 0x96, text[i + 2] == 0x81 {
                out.append(0x20); i += 3
            } else {
                out.append(text[i]); i += 1
            }
        }
        return out
    }

    /// The bytes of a token sequence.
    public func decodeBytes(_ ids: [TokenID], special: Bool = true) -> [UInt8] {
        ids.flatMap { piece($0, special: special) }
    }

    /// The text of a token sequence; invalid UTF-8 becomes U+FFFD.
    public func decode(_ ids: [TokenID], special: Bool = true) -> String {
        String(decoding: decodeBytes(ids, special: special), as: UTF8.self)
    }
}
