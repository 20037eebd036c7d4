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

    /// Template variables (`chat_template_kwargs`, `reasoning_effort`).
    var variables: [String: JSON] = [:]

    /// A whole conversation, from its start to the assistant's prompt, and
    /// `primer`, markup the reply begins with (a forced tool call's start).
    func conversation(_ messages: [ChatMessage], tools: [JSON]? = nil, primer: String = "") throws(ChatPromptRefused) -> [TokenID] {
        try conversationPrompt(messages, tools: tools, primer: primer).ids
    }

    /// The same, with whether its generation prompt opens a reasoning block.
    func conversationPrompt(_ messages: [ChatMessage], tools: [JSON]? = nil, primer: String = "") throws(ChatPromptRefused) -> Prompt {
        let prompt = try rendered { try $0.prompt(messages, tools: tools, variables: variables, addGenerationPrompt: true) }
        defer { stages?.end(.tokenize) }
        return Prompt(ids: model.tokenizer.encode(chatPrompt: withReplies(prompt, messages) + Self.markup(primer)),
                      opensReasoning: model.reasoning?.opensBlock(prompt) ?? false)
    }

    /// `messages` after a history that ends with `lastToken` (nil: there is
    /// none, and this is the conversation's start). Tools were rendered
    /// where the conversation began; `tools` is used only there.
    func continuation(_ messages: [ChatMessage], after lastToken: TokenID?, tools: [JSON]? = nil,
                      primer: String = "") throws(ChatPromptRefused) -> [TokenID] {
        try continuationPrompt(messages, after: lastToken, tools: tools, primer: primer).ids
    }

    func continuationPrompt(_ messages: [ChatMessage], after lastToken: TokenID?, tools: [JSON]? = nil,
                            primer: String = "") throws(ChatPromptRefused) -> Prompt {
        guard let lastToken else { return try conversationPrompt(messages, tools: tools, primer: primer) }
        let prompt = try rendered {
            try $0.continuation(messages, closingTurn: lastToken != model.endOfTurn, variables: variables, addGenerationPrompt: true)
        }
        defer { stages?.end(.tokenize) }
        return Prompt(ids: model.tokenizer.encode(withReplies(prompt, messages) + Self.markup(primer), addSpecial: false),
                      opensReasoning: model.reasoning?.opensBlock(prompt) ?? false)
    }

    /// A rendered prompt's ids, and whether it leaves a reasoning block open for the reply.
    struct Prompt {
        let ids: [TokenID]
        let opensReasoning: Bool
    }

    /// The ids of a conversation as its next request will render it, up to
    /// the end of its last turn, `reply` (as the client sends it back), and
    /// `closed`: with the markup that ends it (the reply ended with the
    /// end-of-turn token). `history`: the tokens `messages` continue (a
    /// session's, a stored response's), nil when they are the whole
    /// conversation. nil when the template cannot render it so.
    func followUp(_ messages: [ChatMessage], reply: String, closed: Bool, history: [TokenID]?, tools: [JSON]?) -> [TokenID]? {
        guard let template = model.chatTemplate else { return nil }
        // A user turn after the reply: templates render a reply before the
        // last user message as every later request does (reasoning dropped).
        func ids(next: String) throws -> (PromptText, [ChatMessage]) {
            let all = messages + [ChatMessage(role: "assistant", content: reply), ChatMessage(role: "user", content: next)]
            if let last = history?.last {
                return (try template.continuation(all, closingTurn: last != model.endOfTurn, variables: variables, addGenerationPrompt: true), all)
            }
            return (try template.prompt(all, tools: tools, variables: variables, addGenerationPrompt: true), all)
        }
        func encode(_ pieces: PromptText) -> [TokenID] {
            history.map { $0 + model.tokenizer.encode(pieces, addSpecial: false) } ?? model.tokenizer.encode(chatPrompt: pieces)
        }
        do {
            let (prompt, all) = try ids(next: "1")
            if let turn = prompt.throughTurn(of: messages.count, endOfTurn: closed ? template.endOfTurn : "") {
                return encode(withReplies(turn, all))
            }
            // An empty answer (the reply was all reasoning) has no piece of
            // its own: what two renders share, through its end of turn.
            guard closed, let endOfTurn = model.endOfTurn else { return nil }
            let (other, _) = try ids(next: "2")
            let a = encode(withReplies(prompt, all)), b = encode(withReplies(other, all))
            let shared = zip(a, b).prefix { $0 == $1 }.count
            guard let end = a[..<shared].lastIndex(of: endOfTurn), end >= (history?.count ?? 0) else { return nil }
            return Array(a[...end])
        } catch {
            return nil
        }
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
