import JSONTree
import Model

/// Tool calls and their results in a conversation a client sends back: an
/// assistant message's `tool_calls`, a `tool` message, and the Responses
/// API's `function_call` and `function_call_output` items.
enum ToolCallMessages {
    /// `tool_calls`: `[{"id", "type": "function", "function": {"name", "arguments"}}]`.
    static func calls(_ value: JSON?, field: String) throws(OpenAIError) -> [ChatToolCall] {
        switch value {
        case nil, .null?: return []
        case .array(let items)?:
            return try items.enumerated().map { i, item throws(OpenAIError) -> ChatToolCall in
                let name = "\(field)[\(i)]"
                guard case .object = item else { throw .invalid("\(name) must be an object", param: name) }
                let o = item
                if case let .string(type)? = o["type"], type != "function" {
                    throw .invalid("\(name).type '\(type)' is not supported: kvserve calls functions only", param: "\(name).type")
                }
                guard case let .string(id)? = o["id"] else { throw .invalid("\(name).id is required", param: "\(name).id") }
                guard let f = o["function"], case .object = f else { throw .invalid("\(name).function must be an object", param: "\(name).function") }
                return try call(id: id, name: f["name"], arguments: f["arguments"], field: "\(name).function")
            }
        case let v?: throw .invalid("\(field) must be an array, not \(v.kindName)", param: field)
        }
    }

    /// A call from its parts; `arguments` is the JSON text the model wrote
    /// (the template gets it parsed; text that is not JSON, as it is).
    static func call(id: String, name: JSON?, arguments: JSON?, field: String) throws(OpenAIError) -> ChatToolCall {
        guard case let .string(function)? = name else { throw .invalid("\(field).name is required", param: "\(field).name") }
        guard case let .string(text)? = arguments else {
            throw .invalid("\(field).arguments must be a string of JSON", param: "\(field).arguments")
        }
        return ChatToolCall(id: id, name: function, arguments: Self.arguments(text))
    }

    /// Arguments the template gets parsed: a client echoes the JSON text the
    /// model wrote, which need not be JSON at all (then it is passed as text).
    static func arguments(_ text: String) -> JSON {
        do { return try JSON.parse(text) } catch { return .string(text) }
    }

    /// A tool's result, named after the call it answers when an earlier message made it.
    static func result(id: String, content: String, earlier: [ChatMessage]) -> ChatMessage {
        let call = earlier.flatMap(\.toolCalls).last { $0.id == id }
        return ChatMessage(role: "tool", content: content, toolCallID: id, name: call?.name)
    }

    /// The Responses API's `input` items: messages, `function_call` items
    /// (consecutive ones are one assistant turn, joined to the assistant
    /// message just before them) and `function_call_output` items.
    static func responsesInput(_ items: [JSON]) throws(OpenAIError) -> [ChatMessage] {
        var messages: [ChatMessage] = []
        var pendingReasoning: String?
        for (i, item) in items.enumerated() {
            let name = "input[\(i)]"
            guard case .object = item else { throw .invalid("\(name) must be an object", param: name) }
            let o = item
            let type: String
            switch o["type"] {
            case nil, .null?: type = "message"
            case .string(let s)?: type = s
            case let v?: throw .invalid("\(name).type must be a string, not \(v.kindName)", param: "\(name).type")
            }
            switch type {
            case "message":
                messages.append(try ChatMessages.message(item, name: name, earlier: messages))
            case "function_call":
                guard case let .string(callID)? = o["call_id"] else { throw .invalid("\(name).call_id is required", param: "\(name).call_id") }
                let c = try call(id: callID, name: o["name"], arguments: o["arguments"], field: name)
                if let last = messages.indices.last, messages[last].role == "assistant" {
                    messages[last].toolCalls.append(c)
                } else {
                    messages.append(ChatMessage(role: "assistant", content: "", toolCalls: [c]))
                }
            case "function_call_output":
                guard case let .string(callID)? = o["call_id"] else { throw .invalid("\(name).call_id is required", param: "\(name).call_id") }
                messages.append(result(id: callID, content: try ChatMessages.text(o["output"], field: "\(name).output"), earlier: messages))
            case "reasoning":
                // A reply's reasoning, sent back: the next assistant message's `reasoning_content`.
                let text = ChatMessages.isNull(o["content"]) ? "" : try ChatMessages.text(o["content"], field: "\(name).content")
                pendingReasoning = (pendingReasoning ?? "") + text
                continue
            default:
                throw .invalid("\(name) of type '\(type)' is not supported: kvserve takes message, reasoning, function_call and "
                               + "function_call_output items", param: "\(name).type")
            }
            if let reasoning = pendingReasoning, let last = messages.indices.last, messages[last].role == "assistant" {
                messages[last].reasoningContent = reasoning
            }
            pendingReasoning = nil
        }
        return messages
    }
}
