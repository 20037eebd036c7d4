import JSONTree
import Model

/// A chat request the chat template cannot render: the model has none, or
/// the template refused these messages (`raise_exception`). The client's
/// to fix: a 400 with this message.
struct ChatPromptRefused: Error {
    let message: String
}

/// Token ids of what a request asks the model to continue, for one tenant.
/// Control tokens come only from the chat template's markup; a reply the
/// model generated, sent back as text, gets the ids it was generated as.
struct Prompts {
    let model: ServedModel
    let replies: GeneratedReplies
    let tenant: Tenant
    /// Where rendering and tokenizing time goes (nil: not measured).
    var stages: RequestStages? = nil

    /// A whole conversation, from its start to the assistant's prompt, and
    /// `primer`, markup the reply begins with (a forced tool call's start).
    func conversation(_ messages: [ChatMessage], tools: [JSON]? = nil, primer: String = "") throws(ChatPromptRefused) -> [TokenID] {
        let prompt = try rendered { try $0.prompt(messages, tools: tools, addGenerationPrompt: true) }
        defer { stages?.end(.tokenize) }
        return model.tokenizer.encode(chatPrompt: withReplies(prompt, messages) + Self.markup(primer))
    }

    /// `messages` after a history that ends with `lastToken` (nil: there is
    /// none, and this is the conversation's start). Tools were rendered
    /// where the conversation began; `tools` is used only there.
    func continuation(_ messages: [ChatMessage], after lastToken: TokenID?, tools: [JSON]? = nil,
                      primer: String = "") throws(ChatPromptRefused) -> [TokenID] {
        guard let lastToken else { return try conversation(messages, tools: tools, primer: primer) }
        let prompt = try rendered {
            try $0.continuation(messages, closingTurn: lastToken != model.endOfTurn, addGenerationPrompt: true)
        }
        defer { stages?.end(.tokenize) }
        return model.tokenizer.encode(withReplies(prompt, messages) + Self.markup(primer), addSpecial: false)
    }

    private static func markup(_ text: String) -> PromptText { PromptText(text.isEmpty ? [] : [.markup(text)]) }

    /// Raw text, never parsed for control tokens; `atStart` adds what the
    /// model puts before a sequence (BOS).
    func text(_ text: String, atStart: Bool) -> [TokenID] {
        defer { stages?.end(.tokenize) }
        return model.tokenizer.encode(text, addSpecial: atStart, parseSpecial: false)
    }

    private func rendered(_ render: (ChatTemplate) throws -> PromptText) throws(ChatPromptRefused) -> PromptText {
        guard let template = model.chatTemplate else { throw ChatPromptRefused(message: NoChatTemplate().description) }
        stages?.end(.parse)
        defer { stages?.end(.template) }
        do { return try render(template) } catch let error as ChatTemplate.Error {
            throw ChatPromptRefused(message: error.message)
        } catch {
            throw ChatPromptRefused(message: "\(error)")
        }
    }

    private func withReplies(_ prompt: PromptText, _ messages: [ChatMessage]) -> PromptText {
        PromptText(prompt.pieces.map { piece in
            guard case let .content(text, i) = piece, messages.indices.contains(i), messages[i].role == "assistant",
                  let ids = replies.ids(for: text, tenant: tenant) else { return piece }
            return .tokens(ids)
        })
    }
}
