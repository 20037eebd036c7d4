import JSONTree

/// A schema kvserve will not constrain to: a feature outside the supported
/// subset, or a schema nothing can satisfy. Never silently loosened: the
/// server answers 400 with this description.
public struct SchemaError: Error, Equatable, CustomStringConvertible {
    /// The keyword (or feature) at fault, e.g. `pattern`, `oneOf`, `$ref`.
    public let keyword: String
    /// JSON pointer of the schema object holding it ("" is the root).
    public let pointer: String
    public let reason: String

    public var description: String {
        "unsupported JSON schema: '\(keyword)' at \(pointer.isEmpty ? "the root" : pointer): \(reason)"
    }

    static func unsupported(_ keyword: String, at pointer: String) -> SchemaError {
        SchemaError(keyword: keyword, pointer: pointer, reason: "this keyword is outside the subset constrained decoding supports "
            + "(type, properties, required, additionalProperties, items, minItems, maxItems, enum, const, anyOf, $ref, $defs)")
    }
}
