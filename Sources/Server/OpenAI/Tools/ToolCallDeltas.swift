import Foundation
import JSONTree
import Model

/// Tool calls in OpenAI's wire shapes.
enum ToolCallDeltas {
    /// A chat completion's call: `{"id", "type": "function", "function": {"name", "arguments"}}`.
    static func chatCall(_ call: ToolCallStream.Call) -> JSON {
        ["id": JSON(call.id), "type": "function", "function": ["name": JSON(call.name), "arguments": JSON(call.arguments)]]
    }

    /// A chunk's `delta` for one event: content, a call's first chunk (its
    /// index, id, type and name, arguments ""), or an arguments fragment.
    static func chat(_ event: ToolCallStream.Event) -> JSON? {
        switch event {
        case let .content(text):
            return ["content": JSON(text)]
        case let .callStarted(index, id, name):
            return ["tool_calls": [["index": JSON(index), "id": JSON(id), "type": "function", "function": ["name": JSON(name), "arguments": ""]]]]
        case let .arguments(index, fragment):
            return ["tool_calls": [["index": JSON(index), "function": ["arguments": JSON(fragment)]]]]
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
