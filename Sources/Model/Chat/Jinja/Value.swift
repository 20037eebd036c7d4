extension Jinja {
    /// A mapping that keeps its keys' insertion order, as Python's dict does.
    struct Dict: Sendable, Equatable {
        private(set) var keys: [String] = []
        private var storage: [String: Value] = [:]

        init() {}
        init(_ pairs: [(String, Value)]) { for (k, v) in pairs { self[k] = v } }

        subscript(key: String) -> Value? {
            get { storage[key] }
            set {
                if storage[key] == nil, newValue != nil { keys.append(key) }
                if newValue == nil { keys.removeAll { $0 == key } }
                storage[key] = newValue
            }
        }

        static func == (a: Dict, b: Dict) -> Bool { a.storage == b.storage }

        var pairs: [(key: String, value: Value)] { keys.map { ($0, storage[$0]!) } }
        var count: Int { keys.count }
    }

    /// `namespace()`: the one mutable object templates have, so that a loop
    /// can carry a value out of its body.
    final class Namespace: @unchecked Sendable {
        var attributes: Dict
        init(_ attributes: Dict) { self.attributes = attributes }
    }

    struct Macro: Sendable {
        let definition: MacroDefinition
    }

    /// A template value, with Python's semantics where Jinja2 defers to Python.
    enum Value: Sendable, Equatable {
        /// What was looked up and not found, for Jinja2's error message.
        case undefined(String)
        case none
        case bool(Bool)
        case int(Int)
        case double(Double)
        case string(Text)
        case list([Value])
        /// Python's tuple: `(a, b)`, `set x = a, b`, a dict's items. Jinja2
        /// prints it as `(a, b)` and never equates it with a list.
        case tuple([Value])
        case dict(Dict)
        case namespace(Namespace)
        case macro(Macro)
        case function(String)

        static func string(_ s: String) -> Value { .string(Text(s)) }

        static func == (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case (.undefined, .undefined), (.none, .none): return true
            case let (.string(x), .string(y)): return x.string == y.string
            case let (.list(x), .list(y)), let (.tuple(x), .tuple(y)): return x == y
            case let (.dict(x), .dict(y)): return x == y
            case let (.namespace(x), .namespace(y)): return x === y
            case let (.macro(x), .macro(y)): return x.definition.name == y.definition.name
            case let (.function(x), .function(y)): return x == y
            default:
                // Python compares bools and numbers by value: True == 1 == 1.0.
                if let x = a.number, let y = b.number { return x == y }
                return false
            }
        }

        var number: Double? {
            switch self {
            case let .bool(b): return b ? 1 : 0
            case let .int(n): return Double(n)
            case let .double(x): return x
            default: return nil
            }
        }

        var isUndefined: Bool { if case .undefined = self { true } else { false } }

        var text: Text? { if case let .string(t) = self { t } else { nil } }

        /// Python's truth value.
        var isTruthy: Bool {
            switch self {
            case .undefined, .none: return false
            case let .bool(b): return b
            case let .int(n): return n != 0
            case let .double(x): return x != 0
            case let .string(s): return !s.string.isEmpty
            case let .list(l), let .tuple(l): return !l.isEmpty
            case let .dict(d): return d.count > 0
            case .namespace, .macro, .function: return true
            }
        }

        /// Python's type name, for error messages.
        var typeName: String {
            switch self {
            case .undefined: return "Undefined"
            case .none: return "NoneType"
            case .bool: return "bool"
            case .int: return "int"
            case .double: return "float"
            case .string: return "str"
            case .list: return "list"
            case .tuple: return "tuple"
            case .dict: return "dict"
            case .namespace: return "Namespace"
            case .macro: return "Macro"
            case .function: return "function"
            }
        }
    }
}
