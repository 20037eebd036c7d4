import Foundation
import Model

/// Tool calls in OpenAI's wire shapes.
enum ToolCallDeltas {
    /// A chat completion's call: `{"id", "type": "function", "function": {"name", "arguments"}}`.
    static func chatCall(_ call: ToolCallStream.Call) -> [String: Any] {
        ["id": call.id, "type": "function", "function": ["name": call.name, "arguments": call.arguments]]
    }

    /// A chunk's `delta` for one event: content, a call's first chunk (its
    /// index, id, type and name, arguments ""), or an arguments fragment.
    static func chat(_ event: ToolCallStream.Event) -> [String: Any]? {
        switch event {
        case let .content(text):
            return ["content": text]
        case let .callStarted(index, id, name):
            return ["tool_calls": [["index": index, "id": id, "type": "function", "function": ["name": name, "arguments": ""]]]]
        case let .arguments(index, fragment):
            return ["tool_calls": [["index": index, "function": ["arguments": fragment]]]]
        case .callEnded:
            return nil
        }
    }
}

extension ToolRequest {
    /// A reader of the reply for calls, when calls are parsed at all.
    func makeStream() -> ToolCallStream? {
        guard parsesCalls else { return nil }
        return ToolCallStream(names: tools.map(\.name), maxCalls: singleCall ? 1 : .max)
    }
}

extension OrderedJSON {
    /// The value as JSONSerialization writes it (a response echoing a tool's schema).
    var foundationObject: Any {
        switch self {
        case .null: return NSNull()
        case let .bool(b): return b
        case let .integer(n): return n
        case let .number(x): return x
        case let .string(s): return s
        case let .array(items): return items.map(\.foundationObject)
        case let .object(members): return Dictionary(members.map { ($0.key, $0.value.foundationObject) }) { _, last in last }
        }
    }
}
