import Foundation

extension Jinja.Renderer {
    func binary(_ op: String, _ a: Value, _ b: Value) throws(Error) -> Value {
        if op == "~" { return .string(a.printed + b.printed) }
        let left = try defined(a), right = try defined(b)
        switch (op, left, right) {
        case let ("+", .string(x), .string(y)) where x.isSafe || y.isSafe:
            // Markup's __add__ and __radd__: the other side escaped, the sum safe.
            var sum = x.escaped + y.escaped
            sum.isSafe = true
            return .string(sum)
        case let ("+", .string(x), .string(y)): return .string(x + y)
        case let ("+", .list(x), .list(y)): return .list(x + y)
        case let ("+", .tuple(x), .tuple(y)): return .tuple(x + y)
        case ("+", .string, _), ("+", .list, _), ("+", .tuple, _):
            throw Error(.runtime, "can only concatenate \(left.typeName) (not \"\(right.typeName)\") to \(left.typeName)")
        case let ("*", .string(s), .int(n)), let ("*", .int(n), .string(s)):
            return .string(s.derived(String(repeating: s.string, count: max(0, n))))
        case let ("*", .list(l), .int(n)), let ("*", .int(n), .list(l)):
            return .list(Array(repeating: l, count: max(0, n)).flatMap { $0 })
        case let ("*", .tuple(l), .int(n)), let ("*", .int(n), .tuple(l)):
            return .tuple(Array(repeating: l, count: max(0, n)).flatMap { $0 })
        default: return try arithmetic(op, left, right)
        }
    }

    /// Python arithmetic: ints stay ints except under `/`; bools count as ints.
    func arithmetic(_ op: String, _ a: Value, _ b: Value) throws(Error) -> Value {
        let left = try defined(a), right = try defined(b)
        guard let x = left.number, let y = right.number else {
            throw Error(.runtime, "unsupported operand type(s) for \(op): '\(left.typeName)' and '\(right.typeName)'")
        }
        if let i = left.integer, let j = right.integer {
            switch op {
            case "+": return .int(i &+ j)
            case "-": return .int(i &- j)
            case "*": return .int(i &* j)
            case "//", "%":
                guard j != 0 else { throw Error(.runtime, "integer division or modulo by zero") }
                let q = Int((Double(i) / Double(j)).rounded(.down))
                return .int(op == "//" ? q : i - q * j)
            case "**" where j >= 0:
                var r = 1
                for _ in 0..<j { r = r &* i }
                return .int(r)
            default: break
            }
        }
        switch op {
        case "+": return .double(x + y)
        case "-": return .double(x - y)
        case "*": return .double(x * y)
        case "/", "//", "%":
            guard y != 0 else { throw Error(.runtime, "division by zero") }
            if op == "/" { return .double(x / y) }
            let q = (x / y).rounded(.down)
            return .double(op == "//" ? q : x - q * y)
        case "**": return .double(Foundation.pow(x, y))
        default: throw Error(.unsupported, "operator '\(op)' is not supported")
        }
    }

    func compare(_ op: String, _ a: Value, _ b: Value) throws(Error) -> Bool {
        switch op {
        case "==": return a == b
        case "!=": return a != b
        case "in": return try contains(b, a)
        case "not in": return !(try contains(b, a))
        default:
            let order = try ordering(try defined(a), try defined(b), op)
            switch op {
            case "<": return order < 0
            case "<=": return order <= 0
            case ">": return order > 0
            default: return order >= 0
            }
        }
    }

    func ordering(_ a: Value, _ b: Value, _ op: String) throws(Error) -> Int {
        if let x = a.number, let y = b.number { return x < y ? -1 : x > y ? 1 : 0 }
        switch (a, b) {
        case let (.string(x), .string(y)):
            // Python orders strings by code point.
            let p = Array(x.scalars.map(\.value)), q = Array(y.scalars.map(\.value))
            return p.lexicographicallyPrecedes(q) ? -1 : p == q ? 0 : 1
        case let (.list(x), .list(y)), let (.tuple(x), .tuple(y)):
            for (p, q) in zip(x, y) where p != q { return try ordering(p, q, op) }
            return x.count < y.count ? -1 : x.count > y.count ? 1 : 0
        default:
            throw Error(.runtime, "'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
        }
    }

    func contains(_ container: Value, _ element: Value) throws(Error) -> Bool {
        switch container {
        case .undefined: return false
        case let .string(t):
            guard case let .string(e) = try defined(element) else {
                throw Error(.runtime, "'in <string>' requires string as left operand, not \(element.typeName)")
            }
            return e.string.isEmpty || t.string.contains(e.string)
        case let .list(items), let .tuple(items): return items.contains(element)
        case let .dict(d):
            guard case let .string(key) = element else { return false }
            return d[key.string] != nil
        default: throw Error(.runtime, "argument of type '\(container.typeName)' is not iterable")
        }
    }
}

extension Jinja.Value {
    var integer: Int? {
        switch self {
        case let .int(n): return n
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }
}
