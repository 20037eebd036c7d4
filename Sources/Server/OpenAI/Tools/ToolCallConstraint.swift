import JSONTree
import Model

/// The JSON schema the generated text must follow when a call is forced
/// (held to it by StructuredOutput's constraint), or nil when the reply is
/// free (no tools, `auto`, `none`).
///
/// The reply is primed (`ToolRequest.primer`), so the schema is that of
/// what the model writes after the primer:
/// - a named function: primed up to `"arguments": `, the model writes the
///   arguments object: the schema is the function's `parameters` (an
///   object of any members when it has none);
/// - `required`: primed with `<tool_call>\n`, the model writes one call
///   object: `anyOf` one schema per tool, each
///   `{"type": "object", "properties": {"name": {"const": NAME},
///   "arguments": PARAMETERS}, "required": ["name", "arguments"],
///   "additionalProperties": false}` (name first, so a call's header
///   streams before its arguments).
///
/// Once the schema's value is complete the reply must end (the
/// constraint's end of output): `ToolCallStream` ends a call at the end of
/// its arguments' value, so neither the outer `}` nor `</tool_call>` is
/// needed.
enum ToolCallConstraint {
    static func schema(_ tools: ToolRequest) -> JSON? {
        switch tools.choice {
        case .none, .auto:
            return nil
        case let .function(name):
            return tools.definition(name)?.argumentsSchema
        case .required:
            let calls = tools.tools.map { tool -> JSON in
                .object([
                    ("type", .string("object")),
                    ("properties", .object([("name", .object([("const", .string(tool.name))])), ("arguments", tool.argumentsSchema)])),
                    ("required", .array([.string("name"), .string("arguments")])),
                    ("additionalProperties", .bool(false)),
                ])
            }
            return calls.count == 1 ? calls[0] : .object([("anyOf", .array(calls))])
        }
    }
}
