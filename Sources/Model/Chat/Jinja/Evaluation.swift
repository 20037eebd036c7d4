extension Jinja.Renderer {
    typealias Value = Jinja.Value
    typealias Error = Jinja.Error

    func evaluate(_ e: Jinja.Expression) throws(Error) -> Value {
        switch e {
        case let .literal(l): return Self.value(of: l)
        case let .name(n): return scope.lookup(n) ?? .undefined("'\(n)' is undefined")
        case let .list(items): return .list(try items.map { x throws(Error) in try evaluate(x) })
        case let .tuple(items): return .tuple(try items.map { x throws(Error) in try evaluate(x) })
        case let .dict(entries):
            var d = Jinja.Dict()
            for entry in entries {
                guard case let .string(key) = try evaluate(entry.key) else {
                    throw Error(.unsupported, "dictionary keys other than strings are not supported")
                }
                d[key.string] = try evaluate(entry.value)
            }
            return .dict(d)
        case let .attribute(base, name): return try attribute(try evaluate(base), name)
        case let .subscript(base, index): return try item(try evaluate(base), try evaluate(index))
        case let .slice(base, start, stop, step):
            return try slice(try evaluate(base), start: try optional(start), stop: try optional(stop), step: try optional(step))
        case let .call(callee, arguments): return try call(callee, arguments)
        case let .filter(base, name, arguments):
            return try filter(name, try evaluate(base),
                              try positional(arguments), try keywords(arguments))
        case let .test(base, name, arguments, negated):
            let result = try test(name, try evaluate(base), try positional(arguments))
            return .bool(result != negated)
        case let .negate(x): return try arithmetic("-", .int(0), try evaluate(x))
        case let .plus(x): return try arithmetic("+", .int(0), try evaluate(x))
        case let .not(x): return .bool(!(try evaluate(x)).isTruthy)
        case let .and(a, b):
            let left = try evaluate(a)
            return left.isTruthy ? try evaluate(b) : left
        case let .or(a, b):
            let left = try evaluate(a)
            return left.isTruthy ? left : try evaluate(b)
        case let .binary(op, a, b): return try binary(op, try evaluate(a), try evaluate(b))
        case let .compare(first, chain):
            var left = try evaluate(first)
            for link in chain {
                let right = try evaluate(link.operand)
                guard try compare(link.op, left, right) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case let .conditional(then, condition, otherwise):
            if try evaluate(condition).isTruthy { return try evaluate(then) }
            return try otherwise.map { x throws(Error) in try evaluate(x) } ?? .undefined("the inline if was false and has no else")
        }
    }

    static func value(of literal: Jinja.Literal) -> Value {
        switch literal {
        case let .string(s): return .string(s)
        case let .integer(n): return .int(n)
        case let .float(x): return .double(x)
        case let .bool(b): return .bool(b)
        case .none: return .none
        }
    }

    private func optional(_ e: Jinja.Expression?) throws(Error) -> Value? {
        guard let e else { return nil }
        return try evaluate(e)
    }

    func positional(_ a: Jinja.Arguments) throws(Error) -> [Value] {
        try a.positional.map { x throws(Error) in try evaluate(x) }
    }

    func keywords(_ a: Jinja.Arguments) throws(Error) -> [String: Value] {
        var out: [String: Value] = [:]
        for k in a.keyword { out[k.name] = try evaluate(k.value) }
        return out
    }

    /// Using an undefined value for anything but printing, testing or
    /// iterating is Jinja2's UndefinedError.
    func defined(_ v: Value) throws(Error) -> Value {
        if case let .undefined(why) = v { throw Error(.runtime, why) }
        return v
    }
}
