public typealias TokenID = Int32

/// What a token is, from `tokenizer.ggml.token_type`.
public enum TokenKind: Int, Sendable {
    case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6

    /// Tokens matched in raw text before pre-tokenization. User-defined ones
    /// always; control and unknown ones only when the caller allows it.
    var isSpecial: Bool { self == .control || self == .userDefined || self == .unknown }
}

/// The token table of a GGUF tokenizer: exact byte texts, kinds, scores and
/// the special ids. Texts are bytes, not Strings: Swift compares Strings by
/// canonical equivalence, which would merge distinct tokens.
public struct Vocabulary: Sendable {
    public enum Model: String, Sendable {
        /// Byte-level BPE with merge ranks (`tokenizer.ggml.model` = gpt2).
        case bytePairEncoding = "gpt2"
        /// SentencePiece BPE with scores and byte fallback (`llama`).
        case sentencePiece = "llama"
    }

    public let model: Model
    /// `tokenizer.ggml.pre`, when present.
    public let preTokenizerName: String?
    public let texts: [[UInt8]]
    public let kinds: [TokenKind]
    public let scores: [Float]
    let idsByText: [[UInt8]: TokenID]

    public let bos: TokenID?
    public let eos: TokenID?
    /// End of turn and end of message (`eot_token_id`, `eom_token_id`):
    /// Llama-3's `<|eot_id|>` ends a reply without being EOS.
    public let endOfTurn: TokenID?
    public let endOfMessage: TokenID?
    public let unknown: TokenID?
    public let padding: TokenID?
    public let addBOS: Bool
    public let addEOS: Bool
    public let addSpacePrefix: Bool

    public var count: Int { texts.count }

    public init(_ gguf: GGUFFile) throws {
        let modelName = try gguf.string("tokenizer.ggml.model")
        guard let model = Model(rawValue: modelName) else {
            throw GGUFError.valueOutOfRange(key: "tokenizer.ggml.model",
                reason: "'\(modelName)' is not a tokenizer kvserve implements (gpt2, llama)")
        }
        self.model = model
        preTokenizerName = try gguf.optionalString("tokenizer.ggml.pre")

        let tokens = try gguf.array("tokenizer.ggml.tokens", of: .string)
        guard tokens.count > 0 else {
            throw GGUFError.valueOutOfRange(key: "tokenizer.ggml.tokens", reason: "the vocabulary is empty")
        }
        texts = tokens.byteStrings()!
        let n = texts.count

        if let types = gguf.value("tokenizer.ggml.token_type") {
            guard case let .array(a) = types, let raw = a.integers(), raw.count == n else {
                throw GGUFError.valueOutOfRange(key: "tokenizer.ggml.token_type", reason: "must be an integer array with one entry per token (\(n))")
            }
            kinds = raw.map { TokenKind(rawValue: Int($0)) ?? .normal }
        } else {
            kinds = Array(repeating: .normal, count: n)
        }
        if let array = try gguf.optionalArray("tokenizer.ggml.scores", of: .float32) {
            guard array.count == n else {
                throw GGUFError.valueOutOfRange(key: "tokenizer.ggml.scores", reason: "\(array.count) scores for \(n) tokens")
            }
            scores = array.floats()!
        } else {
            scores = Array(repeating: 0, count: n)
        }

        var map: [[UInt8]: TokenID] = [:]
        map.reserveCapacity(n)
        // The first of two equal texts wins, as in the reference.
        for (i, text) in texts.enumerated() where map[text] == nil { map[text] = TokenID(i) }
        idsByText = map

        func specialID(_ key: String) throws -> TokenID? {
            guard let id = try gguf.optionalInt(key, in: 0...Int(Int32.max)) else { return nil }
            guard id < n else {
                throw GGUFError.valueOutOfRange(key: key, reason: "token id \(id) is not below the vocabulary size \(n)")
            }
            return TokenID(id)
        }
        bos = try specialID("tokenizer.ggml.bos_token_id")
        eos = try specialID("tokenizer.ggml.eos_token_id")
        endOfTurn = try specialID("tokenizer.ggml.eot_token_id")
        endOfMessage = try specialID("tokenizer.ggml.eom_token_id")
        unknown = try specialID("tokenizer.ggml.unknown_token_id")
        padding = try specialID("tokenizer.ggml.padding_token_id")

        let isLlama3 = ["llama3", "llama-v3", "llama-bpe"].contains(preTokenizerName ?? "")
        addBOS = try gguf.optionalBool("tokenizer.ggml.add_bos_token") ?? (model == .sentencePiece || isLlama3)
        addEOS = try gguf.optionalBool("tokenizer.ggml.add_eos_token") ?? false
        addSpacePrefix = try gguf.optionalBool("tokenizer.ggml.add_space_prefix") ?? (model == .sentencePiece)
    }

    public func id(of text: [UInt8]) -> TokenID? { idsByText[text] }

    public func text(of id: TokenID) -> [UInt8] { texts[Int(id)] }

    public func kind(of id: TokenID) -> TokenKind { kinds[Int(id)] }

    public func contains(_ id: TokenID) -> Bool { id >= 0 && Int(id) < texts.count }
}
