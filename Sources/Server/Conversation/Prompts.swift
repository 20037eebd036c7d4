import Model

/// Token ids of what a request asks the model to continue, for one tenant.
/// Control tokens come only from the chat template's markup; a reply the
/// model generated, sent back as text, gets the ids it was generated as.
struct Prompts {
    let model: ServedModel
    let replies: GeneratedReplies
    let tenant: Tenant

    /// A whole conversation, from its start to the assistant's prompt.
    func conversation(_ messages: [ChatMessage]) -> [TokenID] {
        model.tokenizer.encode(withReplies(model.chatTemplate.prompt(messages, addGenerationPrompt: true), messages),
                               addSpecial: true)
    }

    /// `messages` after a history that ends with `lastToken` (nil: there is
    /// none, and this is the conversation's start).
    func continuation(_ messages: [ChatMessage], after lastToken: TokenID?) -> [TokenID] {
        guard let lastToken else { return conversation(messages) }
        let prompt = model.chatTemplate.continuation(messages, closingTurn: lastToken != model.endOfTurn, addGenerationPrompt: true)
        return model.tokenizer.encode(withReplies(prompt, messages), addSpecial: false)
    }

    /// Raw text, never parsed for control tokens; `atStart` adds what the
    /// model puts before a sequence (BOS).
    func text(_ text: String, atStart: Bool) -> [TokenID] {
        model.tokenizer.encode(text, addSpecial: atStart, parseSpecial: false)
    }

    private func withReplies(_ prompt: PromptText, _ messages: [ChatMessage]) -> PromptText {
        PromptText(prompt.pieces.map { piece in
            guard case let .content(text, i) = piece, messages[i].role == "assistant",
                  let ids = replies.ids(for: text, tenant: tenant) else { return piece }
            return .tokens(ids)
        })
    }
}
