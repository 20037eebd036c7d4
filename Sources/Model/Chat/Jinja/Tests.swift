extension Jinja.Renderer {
    static let testNames: Set<String> = [
        "defined", "undefined", "none", "string", "mapping", "iterable", "sequence", "number", "integer", "float",
        "boolean", "true", "false", "equalto", "eq", "==", "ne", "!=", "lt", "<", "le", "<=", "gt", ">", "ge", ">=",
        "odd", "even", "divisibleby", "in", "sameas", "callable", "lower", "upper",
    ]

    /// `value is name(args)`.
    func test(_ name: String, _ value: Value, _ args: [Value]) throws(Error) -> Bool {
        let other = args.first ?? .undefined("a test needs an argument")
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none":
            if case .none = value { return true }
            return false
        case "string": return value.text != nil
        case "mapping":
            if case .dict = value { return true }
            return false
        case "iterable":
            switch value {
            case .list, .tuple, .dict, .string, .undefined: return true
            default: return false
            }
        case "sequence":
            switch value {
            case .list, .tuple, .dict, .string: return true
            default: return false
            }
        case "number": return value.number != nil
        case "integer":
            if case .int = value { return true }
            return false
        case "float":
            if case .double = value { return true }
            return false
        case "boolean":
            if case .bool = value { return true }
            return false
        case "true": return value == .bool(true) && value.isBool
        case "false": return value == .bool(false) && value.isBool
        case "equalto", "eq", "==": return try compare("==", value, other)
        case "ne", "!=": return try compare("!=", value, other)
        case "lt", "<": return try compare("<", value, other)
        case "le", "<=": return try compare("<=", value, other)
        case "gt", ">": return try compare(">", value, other)
        case "ge", ">=": return try compare(">=", value, other)
        case "in": return try contains(other, value)
        case "odd", "even", "divisibleby":
            guard let n = try defined(value).integer else { throw Error(.runtime, "'\(name)' needs an integer") }
            if name == "odd" { return n % 2 != 0 }
            if name == "even" { return n % 2 == 0 }
            guard let d = other.integer, d != 0 else { throw Error(.runtime, "divisibleby needs a non-zero integer") }
            return n % d == 0
        case "sameas":
            switch (value, other) {
            case (.none, .none): return true
            case let (.bool(a), .bool(b)): return a == b
            case let (.namespace(a), .namespace(b)): return a === b
            default: return false
            }
        case "callable":
            switch value {
            case .macro, .function: return true
            default: return false
            }
        case "lower", "upper":
            guard let t = value.text?.string else { return false }
            return name == "lower" ? t == t.lowercased() : t == t.uppercased()
        default:
            throw Error(.unsupported, "the test '\(name)' is not supported")
        }
    }
}

extension Jinja.Value {
    var isBool: Bool { if case .bool = self { true } else { false } }
}
