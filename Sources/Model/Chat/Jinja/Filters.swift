import Foundation

extension Jinja.Renderer {
    static let filterNames = Set<String>([
        "trim", "tojson", "length", "count", "first", "last", "upper", "lower", "capitalize", "title", "default", "d",
        "join", "list", "string", "int", "float", "replace", "select", "reject", "selectattr", "rejectattr", "map",
        "items", "safe", "e", "escape", "abs", "indent",
    ]).union(sortingFilterNames)

    func filter(_ name: String, _ value: Value, _ args: [Value], _ kwargs: [String: Value]) throws(Error) -> Value {
        func argument(_ k: Int, _ key: String) -> Value? { kwargs[key] ?? (k < args.count ? args[k] : nil) }
        switch name {
        case "trim":
            let chars = argument(0, "chars")?.text.map { Set($0.string.unicodeScalars) }
            return .string(value.printed.trimmed(leading: true, trailing: true) { chars?.contains($0) ?? $0.isPythonWhitespace })
        case "tojson":
            // transformers' signature: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
            if args.count > 2 || kwargs["separators"] != nil || kwargs["sort_keys"] != nil {
                throw Error(.unsupported, "tojson's separators and sort_keys are not supported")
            }
            let ascii = argument(0, "ensure_ascii")?.isTruthy ?? false
            let indent = argument(1, "indent")?.integer
            return .string(Jinja.Text(try Jinja.JSONWriter.encode(value, indent: indent, ensureASCII: ascii), message: value.contentMessage))
        case "length", "count": return .int(try length(value))
        case "first", "last":
            let items = try iterationItems(value)
            return (name == "first" ? items.first : items.last) ?? .undefined("no \(name) item, sequence was empty")
        case "upper", "lower", "capitalize", "title":
            return try method(name, of: .string(value.printed), [], [:])
        case "default", "d":
            let boolean = argument(1, "boolean")?.isTruthy ?? false
            let missing = boolean ? !value.isTruthy : value.isUndefined
            return missing ? argument(0, "default_value") ?? .string("") : value
        case "join":
            let separator = argument(0, "d")?.printed ?? Jinja.Text("")
            var items = try iterationItems(value)
            if let attribute = kwargs["attribute"]?.text?.string {
                items = try items.map { v throws(Error) in try self.attribute(v, attribute) }
            }
            return .string(items.enumerated().reduce(Jinja.Text("")) { $0 + ($1.offset > 0 ? separator : Jinja.Text("")) + $1.element.printed })
        case "list": return .list(try iterationItems(value))
        case "string": return .string(value.printed)
        case "int": return try integer(value, default: argument(0, "default") ?? .int(0))
        case "float":
            if let x = value.number { return .double(x) }
            return .double(value.text.flatMap { Double($0.string.trimmingCharacters(in: .whitespaces)) } ?? argument(0, "default")?.number ?? 0)
        case "replace":
            guard let old = argument(0, "old")?.text?.string, let new = argument(1, "new")?.text?.string else {
                throw Error(.runtime, "replace needs two strings")
            }
            let text = value.printed
            return .string(text.derived(text.string.pythonReplacing(old, with: new, limit: argument(2, "count")?.integer ?? -1)))
        case "select", "reject", "selectattr", "rejectattr": return try selection(name, value, args)
        case "map": return try mapped(value, args, kwargs)
        case "items":
            guard case let .dict(d) = value else {
                if value.isUndefined { return .list([]) }
                throw Error(.runtime, "items filter needs a mapping, not \(value.typeName)")
            }
            return .list(d.pairs.map { .tuple([.string($0.key), $0.value]) })
        case "safe":
            var text = value.printed
            text.isSafe = true
            return .string(text)
        case "e", "escape":
            return .string(value.printed.escaped)
        case "indent":
            guard case let .string(t) = try defined(value) else { throw Error(.runtime, "indent needs a string, not \(value.typeName)") }
            // A string width is the indentation itself.
            let width = argument(0, "width") ?? .int(4)
            let indention = width.text?.string ?? String(repeating: " ", count: max(0, width.integer ?? 4))
            return .string(t.derived(t.string.jinjaIndented(by: indention, first: argument(1, "first")?.isTruthy ?? false,
                                                            blank: argument(2, "blank")?.isTruthy ?? false)))
        case _ where Self.sortingFilterNames.contains(name): return try sortingFilter(name, value, args, kwargs)
        case "abs":
            if let n = value.integer { return .int(abs(n)) }
            if let x = value.number { return .double(abs(x)) }
            throw Error(.runtime, "bad operand type for abs(): '\(value.typeName)'")
        default:
            throw Error(.unsupported, "the filter '\(name)' is not supported")
        }
    }

    func length(_ value: Value) throws(Error) -> Int {
        switch value {
        case .undefined: return 0
        case let .string(t): return t.scalars.count
        case let .list(l), let .tuple(l): return l.count
        case let .dict(d): return d.count
        default: throw Error(.runtime, "object of type '\(value.typeName)' has no len()")
        }
    }

    /// Jinja2's `int` filter: Python's int(), then int(float()), else the default.
    private func integer(_ value: Value, default fallback: Value) throws(Error) -> Value {
        switch value {
        case let .int(n): return .int(n)
        case let .bool(b): return .int(b ? 1 : 0)
        case let .double(x) where x.isFinite: return .int(Int(x))
        case let .string(t):
            let s = t.string.trimmingCharacters(in: .whitespacesAndNewlines)
            if let n = Int(s) { return .int(n) }
            if let x = Double(s), x.isFinite { return .int(Int(x)) }
            return fallback
        default: return fallback
        }
    }

    /// `select(test, ...)`, `reject(...)`, `selectattr(attribute, test, ...)`, `rejectattr(...)`.
    private func selection(_ name: String, _ value: Value, _ args: [Value]) throws(Error) -> Value {
        let byAttribute = name.hasSuffix("attr")
        let keep = name.hasPrefix("select")
        var rest = args
        var attribute: String?
        if byAttribute {
            guard let a = rest.first?.text?.string else { throw Error(.runtime, "\(name) needs an attribute name") }
            attribute = a
            rest.removeFirst()
        }
        let testName = rest.first?.text?.string
        let testArgs = Array(rest.dropFirst())
        var out: [Value] = []
        // Jinja2 checks `if value:` first, so none and empty values select nothing.
        guard value.isTruthy else { return .list([]) }
        for item in try iterationItems(value) {
            let subject = try attribute.map { a throws(Error) in try self.attribute(item, a) } ?? item
            let passes = try testName.map { t throws(Error) in try test(t, subject, testArgs) } ?? subject.isTruthy
            if passes == keep { out.append(item) }
        }
        return .list(out)
    }

    /// `map(attribute='x')` or `map('filter', ...)`.
    private func mapped(_ value: Value, _ args: [Value], _ kwargs: [String: Value]) throws(Error) -> Value {
        // As for select: Jinja2 maps nothing over a false value (functionary's tools=none).
        guard value.isTruthy else { return .list([]) }
        let items = try iterationItems(value)
        if let attribute = kwargs["attribute"]?.text?.string {
            return .list(try items.map { v throws(Error) in
                let a = try self.attribute(v, attribute)
                return a.isUndefined ? kwargs["default"] ?? a : a
            })
        }
        guard let filterName = args.first?.text?.string, Self.filterNames.contains(filterName) else {
            throw Error(.unsupported, "map needs attribute= or the name of a supported filter")
        }
        return .list(try items.map { v throws(Error) in try filter(filterName, v, Array(args.dropFirst()), [:]) })
    }
}

extension Jinja.Text {
    /// markupsafe's `escape`: HTML-escaped and safe, unless it already is.
    var escaped: Jinja.Text {
        if isSafe { return self }
        let html = string.htmlEscaped
        var text = html == string ? self : derived(html)
        text.isSafe = true
        return text
    }
}

extension String {
    var htmlEscaped: String {
        var out = String.UnicodeScalarView()
        for c in unicodeScalars {
            switch c {
            case "&": out += "&amp;".unicodeScalars
            case "<": out += "&lt;".unicodeScalars
            case ">": out += "&gt;".unicodeScalars
            case "\"": out += "&#34;".unicodeScalars
            case "'": out += "&#39;".unicodeScalars
            default: out.append(c)
            }
        }
        return String(out)
    }
}
