import Foundation
import JSONTree
import Model
import StructuredOutput

/// OpenAI's `response_format` (chat completions) and `text.format`
/// (responses): `json_object`, or `json_schema` with the schema the output
/// is held to, step by step, by the decoder.
enum ResponseFormat {
    /// A forced tool call's arguments (tool_choice required or named) take
    /// precedence over the format field: the reply is the call.
    static func constraint(tools: ToolRequest, body: JSON, path: [String],
                           masks: LazySchemaMasks) throws(OpenAIError) -> OutputConstraint? {
        guard let schema = ToolCallConstraint.schema(tools) else { return try constraint(body: body, path: path, masks: masks) }
        do { return try masks.caches.constraint(schema: schema) } catch {
            throw .invalid("tools: \(error.description)", param: "tools")
        }
    }

    /// The constraint the body's format field asks for; nil for text.
    /// - path: where the format is, e.g. ["response_format"] or ["text", "format"].
    static func constraint(body: JSON, path: [String], masks: LazySchemaMasks) throws(OpenAIError) -> OutputConstraint? {
        let param = path.joined(separator: ".")
        var format = body
        for key in path {
            guard let inner = format[key] else { return nil }
            format = inner
        }
        if case .null = format { return nil }
        guard case let .string(type)? = format["type"] else {
            throw .invalid("\(param).type must be one of text, json_object, json_schema", param: "\(param).type")
        }
        switch type {
        case "text": return nil
        case "json_object": return masks.caches.anyObjectConstraint()
        case "json_schema":
            // Chat completions nest the schema under json_schema; the Responses API does not.
            let holder = path == ["response_format"] ? format["json_schema"] : format
            let holderParam = path == ["response_format"] ? "\(param).json_schema" : param
            guard let holder, let schema = holder["schema"] else {
                throw .invalid("\(holderParam).schema is required for type json_schema", param: "\(holderParam).schema")
            }
            do { return try masks.caches.constraint(schema: schema) } catch {
                throw .invalid("\(holderParam).schema: \(error.description)", param: "\(holderParam).schema")
            }
        default:
            throw .invalid("\(param).type '\(type)' is not supported: use text, json_object or json_schema", param: "\(param).type")
        }
    }
}
