import JSONTree

/// How tools reach a model whose chat template knows nothing of them
/// (SmolLM2's ChatML, Gemma's): the Hermes/Qwen 2.5 convention, written
/// with the template's own roles.
///
/// - The tool definitions become a section of the system message (a system
///   message is added first when there is none; a template that refuses
///   system messages, as Gemma's, gets it at the start of the first user
///   message instead): each definition as JSON in
///   `<tools></tools>`, and the instruction to answer with
///   `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, Qwen 2.5's
///   words.
/// - An assistant turn's tool calls are written after its content in that
///   same form, one `<tool_call>` block each.
/// - Tool results become a user turn, each result in
///   `<tool_response></tool_response>` (consecutive results share the turn,
///   as Qwen 2.5 writes them).
/// - An assistant turn keeps its `reasoning_content`, for a template that
///   writes reasoning but no tools.
public enum ToolPromptFallback {
    /// The content index of text that belongs to no message of the request
    /// (the tool definitions): never parsed for control tokens, and never a
    /// reply the model generated.
    public static let toolsMessage = -1

    /// Messages and tools as the template gets them; `origin[k]` is the
    /// request's message that adapted message `k` came from (-1: none).
    struct Adapted {
        var messages: [ChatMessage]
        var tools: [JSON]?
        var origin: [Int]

        init(_ messages: [ChatMessage], tools: [JSON]?) {
            self.messages = messages
            self.tools = tools
            origin = Array(messages.indices)
        }
    }

    static func adapt(_ messages: [ChatMessage], tools: [JSON]?, systemMessages: Bool = true) -> Adapted {
        var out = Adapted([], tools: nil)
        for (i, m) in messages.enumerated() {
            switch m.role {
            // A tool message that answers no call (no id) is the template's to render as it is.
            case "tool" where m.toolCallID != nil:
                let result = "<tool_response>\n" + m.content + "\n</tool_response>"
                if let k = out.messages.indices.last, out.messages[k].role == "user", out.origin[k] >= 0, messages[out.origin[k]].role == "tool" {
                    out.messages[k].content += "\n" + result
                } else {
                    out.messages.append(ChatMessage(role: "user", content: result))
                    out.origin.append(i)
                }
            case "assistant" where !m.toolCalls.isEmpty:
                out.messages.append(ChatMessage(role: "assistant", content: assistantText(content: m.content, calls: m.toolCalls),
                                                reasoningContent: m.reasoningContent))
                out.origin.append(i)
            default:
                out.messages.append(ChatMessage(role: m.role, content: m.content, reasoningContent: m.reasoningContent))
                out.origin.append(i)
            }
        }
        guard let tools, !tools.isEmpty else { return out }
        if out.messages.first?.role == "system" {
            out.messages[0].content += "\n\n" + toolsSection(tools)
        } else if !systemMessages, let k = out.messages.firstIndex(where: { $0.role == "user" }) {
            out.messages[k].content = toolsSection(tools) + "\n\n" + out.messages[k].content
        } else {
            out.messages.insert(ChatMessage(role: "system", content: toolsSection(tools)), at: 0)
            out.origin.insert(toolsMessage, at: 0)
        }
        return out
    }

    /// The system message's section that lists the tools.
    public static func toolsSection(_ tools: [JSON]) -> String {
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
            + tools.map { "\n" + $0.pythonJSON }.joined()
            + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
            + "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>"
    }

    /// An assistant turn that calls tools, as the fallback writes it.
    public static func assistantText(content: String, calls: [ChatToolCall]) -> String {
        let blocks = calls.map { call in
            "<tool_call>\n{\"name\": " + call.name.jsonQuoted + ", \"arguments\": " + call.arguments.pythonJSON + "}\n</tool_call>"
        }
        return ([content].filter { !$0.isEmpty } + blocks).joined(separator: "\n")
    }
}
