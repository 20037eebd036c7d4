import Foundation
import JSONTree
import Model

/// One function a request offers the model (`tools`), as either API spells it:
/// chat completions nest it (`{"type": "function", "function": {"name", ...}}`),
/// the Responses API does not (`{"type": "function", "name", ...}`).
struct ToolDefinition: Equatable {
    let name: String
    let description: String?
    /// The JSON schema of the arguments; nil when the function takes none.
    let parameters: JSON?
    let strict: Bool?

    /// transformers' shape, which chat templates read: `{"type": "function",
    /// "function": {"name", "description", "parameters"}}` (what was given, in that order).
    var templateShape: JSON {
        var function: [(key: String, value: JSON)] = [("name", .string(name))]
        if let description { function.append(("description", .string(description))) }
        if let parameters { function.append(("parameters", parameters)) }
        return .object([("type", .string("function")), ("function", .object(function))])
    }

    /// The schema the arguments must follow (an object of any members when none was given).
    var argumentsSchema: JSON { parameters ?? .object([("type", .string("object"))]) }
}

/// `tool_choice`: whether the model may, must not, or must call a tool.
enum ToolChoice: Equatable {
    case none, auto, required
    case function(String)

    var isNamed: Bool { if case .function = self { true } else { false } }

    var name: String {
        switch self {
        case .none: "none"
        case .auto: "auto"
        case .required: "required"
        case let .function(name): name
        }
    }
}

/// What a request asks of tools: the definitions, the choice, and whether
/// several calls may come in one turn.
///
/// - `auto`: the definitions are rendered, and `<tool_call>` blocks in the
///   reply become calls.
/// - `none`: the definitions are still rendered (the prompt, and so the
///   cache, stays that of the turns around it), and the reply is text.
/// - `required` and a named function: the reply is primed with the start of
///   a call (`primer`), so the model only writes the rest; a named function's
///   primer names it. The constraint (`ToolCallConstraint`) then holds the
///   generated text to the call's schema.
/// - `parallel_tool_calls: false`, or a named function: one call, and
///   generation stops at its end (`</tool_call>` is a stop string).
struct ToolRequest: Equatable {
    var tools: [ToolDefinition] = []
    var choice: ToolChoice = .auto
    var parallelCalls = true

    var isEmpty: Bool { tools.isEmpty }

    /// The definitions as the chat template gets them; nil without tools.
    var templateTools: [JSON]? { tools.isEmpty ? nil : tools.map(\.templateShape) }

    /// Whether the reply is read for tool calls.
    var parsesCalls: Bool { !tools.isEmpty && choice != .none }

    /// Whether one call at most is wanted (a named function is called once).
    var singleCall: Bool { !parallelCalls || choice.isNamed }

    /// The text the reply is primed with, written as the template's markup
    /// after the assistant's prompt ("" when no call is forced). Tool names
    /// are `[A-Za-z0-9_-]`, so no client text can become a control token here.
    var primer: String {
        switch choice {
        case .required: return "<tool_call>\n"
        case let .function(name): return "<tool_call>\n{\"name\": \"\(name)\", \"arguments\": "
        case .none, .auto: return ""
        }
    }

    /// Stop strings added to the request's: the end of the first call, when only one is wanted.
    var stops: [String] {
        guard parsesCalls, singleCall else { return [] }
        return ["</tool_call>"]
    }

    func definition(_ name: String) -> ToolDefinition? { tools.first { $0.name == name } }
}

extension ToolRequest {
    enum Shape { case chatCompletions, responses }

    /// `tools`, `tool_choice` and `parallel_tool_calls` of a request body;
    /// a bad one is a 400 naming it.
    init(_ fields: OpenAIFields, shape: Shape) throws(OpenAIError) {
        if fields["tools"] != nil {
            guard case let .array(items)? = fields["tools"] else {
                throw .invalid("tools must be an array of function definitions", param: "tools")
            }
            tools = try items.enumerated().map { i, item throws(OpenAIError) in try Self.definition(item, param: "tools[\(i)]", shape: shape) }
            var seen = Set<String>()
            for (i, tool) in tools.enumerated() where !seen.insert(tool.name).inserted {
                throw .invalid("tools[\(i)]: the function name '\(tool.name)' is given twice", param: "tools[\(i)]")
            }
        }
        choice = try Self.choice(fields["tool_choice"], tools: tools)
        parallelCalls = try fields.bool("parallel_tool_calls") ?? true
    }

    private static func definition(_ item: JSON, param: String, shape: Shape) throws(OpenAIError) -> ToolDefinition {
        guard case .object = item else { throw .invalid("\(param) must be an object", param: param) }
        guard let type = item["type"]?.stringValue else { throw .invalid("\(param).type is required", param: "\(param).type") }
        guard type == "function" else {
            throw .invalid("\(param).type '\(type)' is not supported: kvserve calls functions only", param: "\(param).type")
        }
        // The Responses API's flat shape; chat completions nest it under "function" (accepted on both).
        let nested = item["function"]
        let function: JSON
        let base: String
        if let nested, case .object = nested { (function, base) = (nested, "\(param).function") }
        else if shape == .chatCompletions { throw .invalid("\(param).function must be an object", param: "\(param).function") }
        else { (function, base) = (item, param) }
        guard let name = function["name"]?.stringValue else { throw .invalid("\(base).name is required", param: "\(base).name") }
        guard isFunctionName(name) else {
            throw .invalid("\(base).name '\(name)' must be 1 to 64 characters of a-z, A-Z, 0-9, '_' and '-'", param: "\(base).name")
        }
        var description: String?
        switch function["description"] {
        case nil, .null?: break
        case .string(let s)?: description = s
        default: throw .invalid("\(base).description must be a string", param: "\(base).description")
        }
        var parameters: JSON?
        switch function["parameters"] {
        case nil, .null?: break
        case let p? where { if case .object = p { true } else { false } }(): parameters = p
        default: throw .invalid("\(base).parameters must be a JSON schema object", param: "\(base).parameters")
        }
        var strict: Bool?
        switch function["strict"] {
        case nil, .null?: break
        case .bool(let b)?: strict = b
        default: throw .invalid("\(base).strict must be true or false", param: "\(base).strict")
        }
        return ToolDefinition(name: name, description: description, parameters: parameters, strict: strict)
    }

    /// OpenAI's rule for function names.
    static func isFunctionName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F || $0 == 0x2D
        }
    }

    /// `"none"`, `"auto"`, `"required"`, `{"type": "function", "function": {"name"}}`
    /// or the Responses API's `{"type": "function", "name"}`.
    private static func choice(_ value: JSON?, tools: [ToolDefinition]) throws(OpenAIError) -> ToolChoice {
        let choice: ToolChoice
        switch value {
        case nil: return .auto
        case .string("none")?: return .none
        case .string("auto")?: return .auto
        case .string("required")?: choice = .required
        case .string(let s)?: throw .invalid("tool_choice '\(s)' is not one of none, auto, required", param: "tool_choice")
        case let o? where o.objectValue != nil:
            guard o["type"]?.stringValue == "function" else {
                throw .invalid("tool_choice must be none, auto, required or {\"type\": \"function\", ...}", param: "tool_choice.type")
            }
            let name = o["name"]?.stringValue ?? o["function"]?["name"]?.stringValue
            guard let name else { throw .invalid("tool_choice names no function (function.name)", param: "tool_choice") }
            guard tools.contains(where: { $0.name == name }) else {
                throw .invalid("tool_choice names the function '\(name)', which is not in tools", param: "tool_choice")
            }
            choice = .function(name)
        case let v?: throw .invalid("tool_choice must be a string or an object, not \(v.kindName)", param: "tool_choice")
        }
        guard !tools.isEmpty else { throw .invalid("tool_choice '\(choice.name)' needs tools", param: "tool_choice") }
        return choice
    }
}
