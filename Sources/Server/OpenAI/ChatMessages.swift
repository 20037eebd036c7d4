import JSONTree
import Model

/// OpenAI's chat messages, as the chat template takes them: content given
/// as a string or as text parts; `developer` is the system role under its
/// newer name; an assistant message may carry `tool_calls` (its content
/// then may be null), and a `tool` message answers one by `tool_call_id`.
enum ChatMessages {
    static func parse(_ value: JSON?, field: String = "messages") throws(OpenAIError) -> [ChatMessage] {
        guard let value else { throw .invalid("\(field) is required", param: field) }
        guard case let .array(items) = value else { throw .invalid("\(field) must be an array, not \(value.kindName)", param: field) }
        guard !items.isEmpty else { throw .invalid("\(field) must not be empty", param: field) }
        var messages: [ChatMessage] = []
        for (i, item) in items.enumerated() { messages.append(try message(item, name: "\(field)[\(i)]", earlier: messages)) }
        return messages
    }

    /// One message; `earlier` gives a tool result its function's name.
    static func message(_ item: JSON, name: String, earlier: [ChatMessage]) throws(OpenAIError) -> ChatMessage {
        guard case .object = item else { throw .invalid("\(name) must be an object", param: name) }
        let m = item
        guard case let .string(role)? = m["role"] else { throw .invalid("\(name).role must be a string", param: "\(name).role") }
        let roles = ["system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"]
        guard let templateRole = roles[role] else {
            throw .invalid("\(name).role '\(role)' is not supported: use system, developer, user, assistant or tool", param: "\(name).role")
        }
        switch templateRole {
        case "assistant":
            let calls = try ToolCallMessages.calls(m["tool_calls"], field: "\(name).tool_calls")
            let content = try calls.isEmpty || !isNull(m["content"]) ? text(m["content"], field: "\(name).content") : ""
            // Sent back with its reasoning: the templates that write it get it.
            let reasoning = isNull(m["reasoning_content"]) ? nil : try text(m["reasoning_content"], field: "\(name).reasoning_content")
            return ChatMessage(role: "assistant", content: content, toolCalls: calls, reasoningContent: reasoning)
        case "tool":
            guard case let .string(id)? = m["tool_call_id"] else {
                throw .invalid("\(name).tool_call_id is required for a tool message", param: "\(name).tool_call_id")
            }
            return ToolCallMessages.result(id: id, content: try text(m["content"], field: "\(name).content"), earlier: earlier)
        default:
            return ChatMessage(role: templateRole, content: try text(m["content"], field: "\(name).content"))
        }
    }

    static func isNull(_ value: JSON?) -> Bool { if case .null? = value { true } else { value == nil } }

    /// A message's text: a string, or an array of text parts joined.
    /// `input_text` and `output_text` are the Responses API's part types.
    static func text(_ content: JSON?, field: String) throws(OpenAIError) -> String {
        switch content {
        case .string(let s)?: return s
        case .array(let parts)?:
            return try parts.enumerated().map { j, part throws(OpenAIError) -> String in
                guard case .object = part, case let .string(type)? = part["type"] else {
                    throw .invalid("\(field)[\(j)] must be an object with a type", param: "\(field)[\(j)]")
                }
                guard ["text", "input_text", "output_text", "reasoning_text"].contains(type), case let .string(text)? = part["text"] else {
                    throw .invalid("\(field)[\(j)] of type '\(type)' is not supported: kvserve's model reads text parts only",
                                   param: "\(field)[\(j)].type")
                }
                return text
            }.joined()
        case nil, .null?: throw .invalid("\(field) is required", param: field)
        case let v?: throw .invalid("\(field) must be a string or an array of text parts, not \(v.kindName)", param: field)
        }
    }
}
