extension Jinja.Renderer {
    static let globalFunctions = ["raise_exception", "namespace", "range", "strftime_now"]

    func call(_ callee: Jinja.Expression, _ arguments: Jinja.Arguments) throws(Error) -> Value {
        if case let .attribute(baseExpression, name) = callee {
            let base = try evaluate(baseExpression)
            switch base {
            case .string, .dict, .list, .tuple:
                return try method(name, of: base, try positional(arguments), try keywords(arguments))
            default: break
            }
        }
        let function = try evaluate(callee)
        let args = try positional(arguments), kwargs = try keywords(arguments)
        switch try defined(function) {
        case let .function(name): return try global(name, args, kwargs)
        case let .macro(m): return try invoke(m.definition, args, kwargs)
        default: throw Error(.runtime, "'\(function.typeName)' object is not callable")
        }
    }

    private func global(_ name: String, _ args: [Value], _ kwargs: [String: Value]) throws(Error) -> Value {
        switch name {
        case "raise_exception":
            // transformers raises TemplateError(message): the template's own words.
            throw Error(.raised, args.first.map { $0.printed.string } ?? "")
        case "strftime_now":
            // transformers' `datetime.now().strftime(format)`, at the render's clock reading.
            guard args.count == 1, kwargs.isEmpty, case let .string(format) = args[0] else {
                throw Error(.runtime, "strftime_now() takes one argument, a format string")
            }
            return .string(format.derived(try Jinja.Strftime(now).format(format.string)))
        case "namespace":
            var attributes = Jinja.Dict()
            if case let .dict(d)? = args.first { for (k, v) in d.pairs { attributes[k] = v } }
            for (k, v) in kwargs.sorted(by: { $0.key < $1.key }) { attributes[k] = v }
            return .namespace(Jinja.Namespace(attributes))
        default:
            let bounds = try args.map { v throws(Error) -> Int in
                guard let n = v.integer else { throw Error(.runtime, "range() needs integers") }
                return n
            }
            guard (1...3).contains(bounds.count) else { throw Error(.runtime, "range expected 1 to 3 arguments") }
            let (start, stop) = bounds.count == 1 ? (0, bounds[0]) : (bounds[0], bounds[1])
            let step = bounds.count == 3 ? bounds[2] : 1
            guard step != 0 else { throw Error(.runtime, "range() arg 3 must not be zero") }
            return .list(stride(from: start, to: stop, by: step).map { .int($0) })
        }
    }

    private func invoke(_ m: Jinja.MacroDefinition, _ args: [Value], _ kwargs: [String: Value]) throws(Error) -> Value {
        guard args.count <= m.parameters.count else { throw Error(.runtime, "macro '\(m.name)' takes not more than \(m.parameters.count) argument(s)") }
        if let extra = kwargs.keys.sorted().first(where: { k in !m.parameters.contains { $0.name == k } }) {
            throw Error(.runtime, "macro '\(m.name)' takes no keyword argument '\(extra)'")
        }
        let outer = scope
        scope = Jinja.Scope(parent: root)
        defer { scope = outer }
        for (k, parameter) in m.parameters.enumerated() {
            if k < args.count { scope.variables[parameter.name] = args[k] }
            else if let v = kwargs[parameter.name] { scope.variables[parameter.name] = v }
            else if let d = parameter.defaultValue { scope.variables[parameter.name] = try evaluate(d) }
            else { scope.variables[parameter.name] = .undefined("'\(parameter.name)' is undefined") }
        }
        return .string(try capture(m.body))
    }
}
