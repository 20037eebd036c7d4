/// Everything kvserve reads from a model's GGUF file before running it: the
/// mapped tensors, the hyperparameters, the tokenizer and the chat template.
/// Loading fails with a descriptive error if any of them is unusable.
public struct ModelFile: Sendable {
    public let gguf: GGUFFile
    public let hyperparameters: ModelHyperparameters
    public let tokenizer: Tokenizer
    /// nil when the file has none and none was configured: raw prompts
    /// work, chat requests are refused.
    public let chatTemplate: ChatTemplate?

    /// A chat template given instead of the file's own (`chat_template`).
    public struct TemplateOverride: Sendable {
        public let source: String
        /// Where it came from, for error messages.
        public let origin: String
        public init(source: String, origin: String) {
            self.source = source
            self.origin = origin
        }
    }

    /// A chat template that cannot be used, and where it came from.
    public struct TemplateError: Error, CustomStringConvertible {
        public let origin: String
        public let underlying: Error
        public var description: String { "\(origin): \(underlying)" }
    }

    public init(path: String, chatTemplate: TemplateOverride? = nil) throws {
        try self.init(gguf: GGUFFile(path: path), chatTemplate: chatTemplate)
    }

    public init(gguf: GGUFFile, chatTemplate override: TemplateOverride? = nil) throws {
        self.gguf = gguf
        hyperparameters = try ModelHyperparameters(gguf)
        tokenizer = try Tokenizer(gguf)
        chatTemplate = try Self.chatTemplate(gguf, tokenizer.vocabulary, override)
    }

    public static func chatTemplate(_ gguf: GGUFFile, _ vocabulary: Vocabulary, _ override: TemplateOverride?) throws -> ChatTemplate? {
        let own = try gguf.optionalString(ChatTemplate.metadataKey)
        guard let source = override?.source ?? own else { return nil }
        let origin = override?.origin ?? "the model's \(ChatTemplate.metadataKey)"
        func text(_ id: TokenID?) -> String? { id.map { String(decoding: vocabulary.text(of: $0), as: UTF8.self) } }
        do {
            return try ChatTemplate(source: source, bosToken: text(vocabulary.bos), eosToken: text(vocabulary.eos))
        } catch {
            throw TemplateError(origin: origin, underlying: error)
        }
    }
}

/// A chat request for a model that has no chat template.
public struct NoChatTemplate: Error, CustomStringConvertible {
    public init() {}
    public var description: String {
        "the model has no chat template (its GGUF file has no \(ChatTemplate.metadataKey)): send a raw prompt, or give the "
            + "server one with the chat_template setting (a path to a .jinja file: KVSERVE_CHAT_TEMPLATE or --set chat_template=PATH)"
    }
}

extension ModelFile {
    /// The tokens that end a reply (see `Tokenizer.endOfGeneration`).
    public var endOfGeneration: Set<TokenID> { tokenizer.endOfGeneration(chatTemplate) }

    /// The chat template's end of turn when it is one token (a session whose
    /// last token is this has its turn closed).
    public var chatTemplateEndOfTurn: TokenID? { tokenizer.endOfTurn(of: chatTemplate) }

    /// The chat template, or the error that says there is none.
    public var requiredChatTemplate: ChatTemplate {
        get throws(NoChatTemplate) {
            guard let chatTemplate else { throw NoChatTemplate() }
            return chatTemplate
        }
    }
}

extension GGUFFile {
    /// Total number of weights over all tensors.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }

    /// How many tensors have each element type.
    public var tensorTypeCounts: [(type: TensorType, count: Int)] {
        Dictionary(grouping: tensors, by: \.type)
            .map { ($0.key, $0.value.count) }
            .sorted { $0.type.id < $1.type.id }
    }
}
