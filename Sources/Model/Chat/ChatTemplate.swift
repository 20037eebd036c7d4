import Foundation

/// One chat turn.
public struct ChatMessage: Codable, Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// A model's chat template (`tokenizer.chat_template`, Jinja source),
/// recognised as one of the formats kvserve renders natively. A template that
/// is not recognised is an error when the model loads, never wrong text.
public enum ChatTemplate: Sendable, Equatable {
    /// ChatML: `<|im_start|>{role}\n{content}<|im_end|>\n` per message; the
    /// generation prompt is `<|im_start|>assistant\n`. Some templates insert a
    /// default system message when the conversation does not start with one.
    case chatML(defaultSystemPrompt: String?)

    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        case unrecognized(excerpt: String)

        public var description: String {
            switch self {
            case let .unrecognized(excerpt):
                return "unrecognised chat template (kvserve renders ChatML templates): \(excerpt)"
            }
        }
    }

    public static let metadataKey = "tokenizer.chat_template"

    public init(model gguf: GGUFFile) throws {
        try self.init(source: gguf.string(Self.metadataKey))
    }

    public init(source: String) throws {
        let excerpt = String(source.prefix(80)).replacingOccurrences(of: "\n", with: "\\n")
        // Features whose output this renderer does not reproduce.
        let unsupported = ["tools", "<think>", "strftime", "raise_exception", "bos_token"]
        guard source.contains("<|im_start|>"), source.contains("<|im_end|>"),
              source.contains("add_generation_prompt"),
              source.contains("message['role']") || source.contains("message.role"),
              source.contains("message['content']") || source.contains("message.content"),
              !unsupported.contains(where: source.contains)
        else { throw Error.unrecognized(excerpt: excerpt) }
        self = .chatML(defaultSystemPrompt: Self.defaultSystemPrompt(in: source))
    }

    /// The system message a ChatML template adds when the first message is
    /// not a system one: the literal between `<|im_start|>system` and
    /// `<|im_end|>` guarded by a test of the first message's role.
    static func defaultSystemPrompt(in source: String) -> String? {
        guard let guardRange = source.range(of: "!= 'system'") ?? source.range(of: "!= \"system\""),
              let open = source.range(of: "<|im_start|>system", range: guardRange.upperBound..<source.endIndex),
              let close = source.range(of: "<|im_end|>", range: open.upperBound..<source.endIndex)
        else { return nil }
        var body = String(source[open.upperBound..<close.lowerBound])
        // Jinja string literals may spell the newline as an escape.
        body = body.replacingOccurrences(of: "\\n", with: "\n")
        guard body.hasPrefix("\n") else { return nil }
        return String(body.dropFirst())
    }

    /// The prompt text for `messages`, exactly as the template renders it.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        prompt(messages, addGenerationPrompt: addGenerationPrompt).string
    }

    /// The same text, with each message's content kept apart from the
    /// template's markup, so that only the markup is parsed for control tokens.
    public func prompt(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> PromptText {
        switch self {
        case let .chatML(defaultSystemPrompt):
            var prompt = PromptText()
            if let system = defaultSystemPrompt, let first = messages.first, first.role != "system" {
                prompt.pieces.append(.markup("<|im_start|>system\n\(system)<|im_end|>\n"))
            }
            for (i, message) in messages.enumerated() {
                prompt.pieces += [.markup("<|im_start|>\(message.role)\n"), .content(message.content, message: i), .markup("<|im_end|>\n")]
            }
            if addGenerationPrompt { prompt.pieces.append(.markup("<|im_start|>assistant\n")) }
            return prompt
        }
    }

    /// What continues a conversation already rendered and answered: the end
    /// of the assistant's turn (`closingTurn`: the reply did not end with the
    /// end-of-turn token, being cut by a length limit or a stop string), the
    /// separator after it, then `messages`, with no default system prompt,
    /// since the conversation already began.
    public func continuation(_ messages: [ChatMessage], closingTurn: Bool, addGenerationPrompt: Bool) -> PromptText {
        switch self {
        case .chatML:
            let rest = ChatTemplate.chatML(defaultSystemPrompt: nil).prompt(messages, addGenerationPrompt: addGenerationPrompt)
            return PromptText([.markup((closingTurn ? endOfTurn : "") + "\n")]) + rest
        }
    }

    /// The markup that ends a message, as the model generates it to end its reply.
    public var endOfTurn: String {
        switch self {
        case .chatML: "<|im_end|>"
        }
    }

    public var kindDescription: String {
        switch self {
        case let .chatML(system):
            return system.map { "ChatML (default system prompt: \"\($0)\")" } ?? "ChatML"
        }
    }
}
