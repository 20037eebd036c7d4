import JSONTree
import Foundation

/// Compiles a JSON schema (draft 2020-12 keywords, and draft-7's
/// `definitions`) into grammar nodes, refusing anything outside the subset:
/// objects with properties, required and additionalProperties; arrays with
/// items, minItems and maxItems; strings, numbers, integers, booleans, null;
/// enum and const; `type` lists and `anyOf` whose alternatives begin with
/// different bytes; local `$ref` without recursion.
struct SchemaCompiler {
    let root: JSON
    var builder = GrammarBuilder()
    /// `$ref` targets being compiled (a second entry is recursion), and those done.
    private var refsInProgress: Set<String> = []
    private var compiledRefs: [String: JSONGrammar.NodeID] = [:]

    init(root: JSON) { self.root = root }

    /// Keywords that constrain nothing (annotations), ignored.
    static let annotations: Set<String> = ["title", "description", "$schema", "$id", "$comment", "examples", "default",
                                           "deprecated", "readOnly", "writeOnly", "$defs", "definitions", "$anchor"]
    static let supported: Set<String> = ["type", "properties", "required", "additionalProperties", "items", "minItems",
                                         "maxItems", "enum", "const", "anyOf", "$ref", "format"]

    mutating func compile(_ schema: JSON, at pointer: String) throws(SchemaError) -> JSONGrammar.NodeID {
        let members: [(key: String, value: JSON)]
        switch schema {
        case .bool(true): return JSONGrammar.anyNode
        case .bool(false): throw SchemaError(keyword: "false", pointer: pointer, reason: "the schema false admits no value")
        case .object(let m): members = m
        default: throw SchemaError(keyword: "schema", pointer: pointer, reason: "a schema must be an object or a boolean")
        }
        var keywords: [String: JSON] = [:]
        for (key, value) in members where !Self.annotations.contains(key) {
            guard Self.supported.contains(key) else { throw .unsupported(key, at: pointer) }
            keywords[key] = value
        }
        if let ref = keywords["$ref"] {
            if let other = keywords.keys.filter({ $0 != "$ref" }).sorted().first {
                throw SchemaError(keyword: other, pointer: pointer, reason: "keywords beside $ref are not supported")
            }
            return try compileReference(ref, at: pointer)
        }
        if let anyOf = keywords["anyOf"] {
            if let other = keywords.keys.filter({ $0 != "anyOf" }).sorted().first {
                throw SchemaError(keyword: other, pointer: pointer, reason: "keywords beside anyOf are not supported")
            }
            guard case let .array(schemas) = anyOf, !schemas.isEmpty else {
                throw SchemaError(keyword: "anyOf", pointer: pointer, reason: "must be a non-empty array of schemas")
            }
            var alternatives: [JSONGrammar.NodeID] = []
            for (i, s) in schemas.enumerated() { alternatives.append(try compile(s, at: pointer + "/anyOf/\(i)")) }
            return try union(alternatives, keyword: "anyOf", at: pointer)
        }
        let types = try typeNames(keywords["type"], at: pointer)
        if keywords["enum"] != nil || keywords["const"] != nil { return try compileLiterals(keywords, types: types, at: pointer) }

        let objectKeywords = ["properties", "required", "additionalProperties"], arrayKeywords = ["items", "minItems", "maxItems"]
        let format = try stringFormat(keywords["format"], at: pointer)
        let inferred: [String]
        if let types { inferred = types }
        else if format != nil { inferred = ["string"] }
        else if objectKeywords.contains(where: { keywords[$0] != nil }) { inferred = ["object"] }
        else if arrayKeywords.contains(where: { keywords[$0] != nil }) { inferred = ["array"] }
        else { return JSONGrammar.anyNode }

        var alternatives: [JSONGrammar.NodeID] = []
        let isNumber = inferred.contains("number")
        for type in inferred {
            switch type {
            // A format constrains strings only (other types ignore it, as validators do).
            case "string": alternatives.append(builder.add(format.map { .format($0) } ?? .string))
            case "number": alternatives.append(builder.add(.number(integer: false)))
            case "integer": if !isNumber { alternatives.append(builder.add(.number(integer: true))) }
            case "boolean": alternatives.append(JSONGrammar.booleanNode)
            case "null": alternatives.append(JSONGrammar.nullNode)
            case "object": alternatives.append(try compileObject(keywords, at: pointer))
            case "array": alternatives.append(try compileArray(keywords, at: pointer))
            default: throw SchemaError(keyword: "type", pointer: pointer, reason: "'\(type)' is not a JSON schema type")
            }
        }
        return try union(alternatives, keyword: "type", at: pointer)
    }

    private func typeNames(_ value: JSON?, at pointer: String) throws(SchemaError) -> [String]? {
        switch value {
        case nil: return nil
        case .string(let t)?: return [t]
        case .array(let items)?:
            let names = items.compactMap { item -> String? in if case .string(let t) = item { return t } else { return nil } }
            if !names.isEmpty, names.count == items.count, Set(names).count == names.count { return names }
        default: break
        }
        throw SchemaError(keyword: "type", pointer: pointer, reason: "must be a type name or an array of distinct type names")
    }

    private mutating func union(_ alternatives: [JSONGrammar.NodeID], keyword: String, at pointer: String) throws(SchemaError) -> JSONGrammar.NodeID {
        if alternatives.count == 1 { return alternatives[0] }
        var seen = ByteSet()
        for a in alternatives {
            guard builder.firstBytes[Int(a)].isDisjoint(with: seen) else {
                throw SchemaError(keyword: keyword, pointer: pointer, reason: "alternatives that can begin with the same byte "
                    + "(two objects, two arrays, strings and string enums, ...) are not supported")
            }
            seen = seen.union(builder.firstBytes[Int(a)])
        }
        return builder.add(.union(alternatives))
    }

    private mutating func compileLiterals(_ keywords: [String: JSON], types: [String]?, at pointer: String) throws(SchemaError) -> JSONGrammar.NodeID {
        var values: [JSON]
        if let c = keywords["const"] {
            values = [c]
            if case .array(let e)? = keywords["enum"] { values = e.contains(c) ? [c] : [] }
        } else {
            guard case .array(let e)? = keywords["enum"], !e.isEmpty else {
                throw SchemaError(keyword: "enum", pointer: pointer, reason: "must be a non-empty array")
            }
            values = e
        }
        if let other = keywords.keys.filter({ !["enum", "const", "type"].contains($0) }).sorted().first {
            throw SchemaError(keyword: other, pointer: pointer, reason: "keywords beside enum or const other than type are not supported")
        }
        if let types { values = values.filter { v in types.contains { Self.value(v, hasType: $0) } } }
        guard !values.isEmpty else {
            throw SchemaError(keyword: keywords["const"] != nil ? "const" : "enum", pointer: pointer,
                              reason: "no value satisfies both it and the schema's type")
        }
        return builder.addLiterals(values.map(\.serializedBytes))
    }

    static func value(_ v: JSON, hasType type: String) -> Bool {
        switch (v, type) {
        case (.null, "null"), (.bool, "boolean"), (.string, "string"), (.array, "array"), (.object, "object"), (.number, "number"): return true
        case (.number(let text), "integer"): return !text.contains(".") && !text.contains("e") && !text.contains("E")
        default: return false
        }
    }

    /// The index in `StringFormat.all` of the format named, if any.
    private func stringFormat(_ value: JSON?, at pointer: String) throws(SchemaError) -> Int? {
        guard let value else { return nil }
        guard case .string(let name) = value else { throw SchemaError(keyword: "format", pointer: pointer, reason: "must be a string") }
        guard let index = StringFormat.all.firstIndex(where: { $0.name == name }) else {
            throw SchemaError(keyword: "format", pointer: pointer,
                              reason: "format '\(name)' is not supported (supported: \(StringFormat.supportedNames.joined(separator: ", ")))")
        }
        return index
    }

    private mutating func compileObject(_ keywords: [String: JSON], at pointer: String) throws(SchemaError) -> JSONGrammar.NodeID {
        var names: [String] = [], values: [JSONGrammar.NodeID] = []
        switch keywords["properties"] {
        case nil: break
        case .object(let members)?:
            for (name, schema) in members where !names.contains(name) {
                names.append(name)
                values.append(try compile(schema, at: pointer + "/properties/" + Self.escapePointer(name)))
            }
        default: throw SchemaError(keyword: "properties", pointer: pointer, reason: "must be an object of schemas")
        }
        var required: Set<String> = []
        switch keywords["required"] {
        case nil: break
        case .array(let items)?:
            for item in items {
                guard case .string(let name) = item else {
                    throw SchemaError(keyword: "required", pointer: pointer, reason: "must be an array of property names")
                }
                required.insert(name)
            }
        default: throw SchemaError(keyword: "required", pointer: pointer, reason: "must be an array of property names")
        }
        // Extra keys: false (none), or a schema for them (true/absent: any value).
        var extra: JSONGrammar.NodeID? = JSONGrammar.anyNode
        if let additional = keywords["additionalProperties"] {
            if case .bool(false) = additional { extra = nil }
            else { extra = try compile(additional, at: pointer + "/additionalProperties") }
        }
        // A required name without a declared schema takes the one for extra keys.
        for name in required.sorted() where !names.contains(name) {
            guard let extra else {
                throw SchemaError(keyword: "required", pointer: pointer,
                                  reason: "'\(name)' is required but not among the properties, and additionalProperties is false")
            }
            names.append(name)
            values.append(extra)
        }
        // Only free-form keys: a map. Otherwise only the declared properties
        // are emitted (valid whatever additionalProperties allows).
        if names.isEmpty, let extra { return extra == JSONGrammar.anyNode ? JSONGrammar.anyObjectNode : builder.add(.map(value: extra)) }
        let keys = names.map { name -> [UInt8] in
            var key: [UInt8] = []
            JSON.writeString(name, to: &key)
            return key
        }
        return builder.addObject(keys: keys, values: values, required: names.map(required.contains))
    }

    private mutating func compileArray(_ keywords: [String: JSON], at pointer: String) throws(SchemaError) -> JSONGrammar.NodeID {
        func count(_ keyword: String) throws(SchemaError) -> Int? {
            guard let v = keywords[keyword] else { return nil }
            guard case .number(let text) = v, let n = Int(text), n >= 0 else {
                throw SchemaError(keyword: keyword, pointer: pointer, reason: "must be a non-negative integer")
            }
            return n
        }
        let minItems = try count("minItems") ?? 0, maxItems = try count("maxItems")
        if let maxItems, maxItems < minItems {
            throw SchemaError(keyword: "maxItems", pointer: pointer, reason: "maxItems \(maxItems) is below minItems \(minItems)")
        }
        var item = JSONGrammar.anyNode
        switch keywords["items"] {
        case nil: break
        case .array?: throw SchemaError(keyword: "items", pointer: pointer, reason: "items as an array (tuple validation) is not supported")
        case .bool(false)?:
            guard minItems == 0 else { throw SchemaError(keyword: "items", pointer: pointer, reason: "items is false but minItems is \(minItems)") }
            return builder.addLiterals([Array("[]".utf8)])
        case let schema?: item = try compile(schema, at: pointer + "/items")
        }
        if item == JSONGrammar.anyNode && minItems == 0 && maxItems == nil { return JSONGrammar.anyArrayNode }
        return builder.add(.array(item: item, minItems: minItems, maxItems: maxItems))
    }

    private mutating func compileReference(_ ref: JSON, at pointer: String) throws(SchemaError) -> JSONGrammar.NodeID {
        guard case .string(let target) = ref, target.hasPrefix("#") else {
            throw SchemaError(keyword: "$ref", pointer: pointer, reason: "only references within the schema (#/...) are supported")
        }
        if let done = compiledRefs[target] { return done }
        guard !refsInProgress.contains(target) else {
            throw SchemaError(keyword: "$ref", pointer: pointer, reason: "recursive reference to \(target) is not supported")
        }
        var node = root
        for token in target.dropFirst().split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch node {
            case .object: if let next = node[key] { node = next; continue }
            case .array(let items): if let i = Int(key), items.indices.contains(i) { node = items[i]; continue }
            default: break
            }
            throw SchemaError(keyword: "$ref", pointer: pointer, reason: "\(target) does not name a schema in this document")
        }
        if target == "#" || target == "#/" {
            throw SchemaError(keyword: "$ref", pointer: pointer, reason: "recursive reference to \(target) is not supported")
        }
        refsInProgress.insert(target)
        let compiled = try compile(node, at: String(target.dropFirst()))
        refsInProgress.remove(target)
        compiledRefs[target] = compiled
        return compiled
    }

    static func escapePointer(_ key: String) -> String {
        key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}
