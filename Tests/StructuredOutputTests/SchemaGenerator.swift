import JSONTree
import Model
@testable import StructuredOutput

/// Random schemas within the supported subset, from a seed: objects (some
/// properties required, additionalProperties false or absent), maps,
/// arrays with and without bounds, strings, numbers, integers, booleans,
/// null, enum and const (unicode, quotes, numbers), type lists, anyOf and
/// $ref into $defs. Property names include characters JSON must escape.
struct SchemaGenerator {
    var random: SplitMix64
    private var definitions: [(key: String, value: JSON)] = []

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    static let names = ["name", "age", "id", "tags", "a b", "quote\"d", "naïve", "x/y", "tilde~", "日本", "back\\slash",
                        "count", "items", "value", "kind", "ok", "nested", "list", "score", "emoji😀"]
    static let words: [JSON] = ["red", "green", "café", "日本語", "with \"quote\"", "tab\there", "", "ünï", "a\\b"].map { .string($0) }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &random) < p }

    /// A schema whose root is usually an object, as structured output asks.
    mutating func schema() -> JSON {
        definitions = []
        var root = chance(0.8) ? object(depth: 0) : value(depth: 0)
        if !definitions.isEmpty, case var .object(members) = root {
            members.append(("$defs", .object(definitions)))
            root = .object(members)
        }
        return root
    }

    mutating func value(depth: Int) -> JSON {
        let containers = depth < 3
        switch int(0...(containers ? 15 : 10)) {
        case 0, 1: return .object([("type", "string")])
        case 2: return .object([("type", "integer")])
        case 3: return .object([("type", "number")])
        case 4: return .object([("type", "boolean")])
        case 5: return .object([("type", "null")])
        case 6: return .object([("enum", .array(enumValues()))])
        case 7: return .object([("const", enumValues()[0])])
        case 8: return .object([("type", .array(["string", "null"].shuffled(using: &random).map { .string($0) }))])
        case 9: return .object([("type", .array([.string("integer"), .string("null")]))])
        case 10:
            if chance(0.5) { return .object([("type", "string"), ("format", .string(["date", "time", "date-time", "uuid"][int(0...3)]))]) }
            return .object([("description", "free"), ("type", "string"), ("title", "t")])
        case 11, 12: return object(depth: depth + 1)
        case 13: return array(depth: depth + 1)
        case 14:  // anyOf with alternatives that begin apart
            return .object([("anyOf", .array([object(depth: depth + 1), .object([("type", "null")]), .object([("type", "string")])]))])
        default:  // a reference into $defs
            let name = "d\(definitions.count)"
            let target = chance(0.5) ? object(depth: depth + 1) : value(depth: depth + 1)
            definitions.append((name, target))
            return .object([("$ref", .string("#/$defs/\(name)"))])
        }
    }

    mutating func enumValues() -> [JSON] {
        var values: [JSON] = []
        for _ in 0..<int(1...4) {
            switch int(0...4) {
            case 0, 1: values.append(Self.words[int(0...Self.words.count - 1)])
            case 2: values.append(.number(["0", "-1", "42", "3.25", "1e3", "12"][int(0...5)]))
            case 3: values.append(chance(0.5) ? .null : .bool(chance(0.5)))
            default: values.append(.array([.string("x"), .number("1")]))
            }
        }
        return values
    }

    mutating func object(depth: Int) -> JSON {
        if depth > 0 && chance(0.1) {  // a map
            return .object([("type", "object"), ("additionalProperties", value(depth: depth + 1))])
        }
        let count = int(0...4)
        var names = Self.names.shuffled(using: &random).prefix(count).map { $0 }
        if count == 0 { names = [] }
        var properties: [(key: String, value: JSON)] = []
        for name in names { properties.append((name, value(depth: depth + 1))) }
        let required = names.filter { _ in chance(0.6) }.map { JSON.string($0) }
        var members: [(key: String, value: JSON)] = [("type", "object"), ("properties", .object(properties))]
        if !required.isEmpty || chance(0.5) { members.append(("required", .array(required))) }
        if chance(0.8) { members.append(("additionalProperties", .bool(false))) }
        return .object(members)
    }

    mutating func array(depth: Int) -> JSON {
        var members: [(key: String, value: JSON)] = [("type", "array"), ("items", value(depth: depth))]
        let minimum = int(0...2)
        if chance(0.6) { members.append(("minItems", .number(String(minimum)))) }
        if chance(0.5) { members.append(("maxItems", .number(String(minimum + int(0...3))))) }
        return .object(members)
    }
}
