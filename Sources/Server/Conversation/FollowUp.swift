import JSONTree
import Model

/// How a turn's conversation renders in its next request: the turn's
/// messages, and its reply as the client sends it back (its answer, without
/// the reasoning a template drops from earlier turns). When the turn ends,
/// those ids replace what was computed where they differ: a session's
/// history is rewritten to them, a stored response keeps them, and the
/// engine prefills them when idle, so the next request finds them cached.
struct FollowUp {
    let prompts: Prompts
    let messages: [ChatMessage]
    let tools: [JSON]?
    /// What the messages continue.
    let history: History
    /// The reply's reasoning is returned apart, so the client sends back only its answer.
    let separatesReasoning: Bool
    let opensReasoning: Bool

    enum History {
        /// Nothing: the messages are the whole conversation.
        case none
        /// These ids (a stored response's).
        case tokens([TokenID])
        /// The session's history before the turn.
        case session
    }

    /// The conversation's ids through the reply's turn, after `history`
    /// (nil: the messages are the whole conversation); nil when the template
    /// cannot render it (the reply called tools, or it has no text).
    func ids(reply text: String, closed: Bool, history: [TokenID]?) -> [TokenID]? {
        guard tools == nil || tools!.isEmpty else { return nil }
        var reply = text
        if separatesReasoning, let markers = prompts.model.reasoning {
            reply = ReasoningSplitter.answer(of: text, markers: markers, startsInside: opensReasoning)
        }
        return prompts.followUp(messages, reply: reply, closed: closed, history: history, tools: tools)
    }
}
