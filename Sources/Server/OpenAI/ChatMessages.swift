import Model

/// OpenAI's chat messages, as the chat template takes them: content given
/// as a string or as text parts; `developer` is the system role under its
/// newer name.
enum ChatMessages {
    static func parse(_ value: JSONValue?, field: String = "messages") throws(OpenAIError) -> [ChatMessage] {
        guard let value else { throw .invalid("\(field) is required", param: field) }
        guard case let .array(items) = value else { throw .invalid("\(field) must be an array, not \(value.kindName)", param: field) }
        guard !items.isEmpty else { throw .invalid("\(field) must not be empty", param: field) }
        return try items.enumerated().map { i, item throws(OpenAIError) in
            let name = "\(field)[\(i)]"
            guard case let .object(m) = item else { throw .invalid("\(name) must be an object", param: name) }
            guard case let .string(role)? = m["role"] else { throw .invalid("\(name).role must be a string", param: "\(name).role") }
            let roles = ["system": "system", "developer": "system", "user": "user", "assistant": "assistant"]
            guard let templateRole = roles[role] else {
                throw .invalid("\(name).role '\(role)' is not supported: use system, developer, user or assistant", param: "\(name).role")
            }
            return ChatMessage(role: templateRole, content: try text(m["content"], field: "\(name).content"))
        }
    }

    /// A message's text: a string, or an array of text parts joined.
    /// `input_text` and `output_text` are the Responses API's part types.
    static func text(_ content: JSONValue?, field: String) throws(OpenAIError) -> String {
        switch content {
        case .string(let s)?: return s
        case .array(let parts)?:
            return try parts.enumerated().map { j, part throws(OpenAIError) -> String in
                guard case let .object(p) = part, case let .string(type)? = p["type"] else {
                    throw .invalid("\(field)[\(j)] must be an object with a type", param: "\(field)[\(j)]")
                }
                guard ["text", "input_text", "output_text"].contains(type), case let .string(text)? = p["text"] else {
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
