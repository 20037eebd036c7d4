import Foundation

extension Jinja.Renderer {
    /// The Python methods of str and dict that chat templates call. Lists'
    /// mutating methods are refused, as transformers' immutable sandbox does.
    func method(_ name: String, of base: Value, _ args: [Value], _ kwargs: [String: Value]) throws(Error) -> Value {
        switch base {
        case let .string(t): return name == "format" ? try format(t, args, kwargs) : try stringMethod(name, t, args)
        case let .dict(d): return try dictMethod(name, d, args)
        default: throw Error(.unsupported, "the \(base.typeName) method '\(name)' is not supported")
        }
    }

    private func stringArgument(_ args: [Value], _ k: Int) -> String? {
        guard k < args.count, case let .string(t) = args[k] else { return nil }
        return t.string
    }

    private func stringMethod(_ name: String, _ t: Jinja.Text, _ args: [Value]) throws(Error) -> Value {
        switch name {
        case "strip", "lstrip", "rstrip":
            let chars = stringArgument(args, 0).map { Set($0.unicodeScalars) }
            let remove: (Unicode.Scalar) -> Bool = { chars?.contains($0) ?? $0.isPythonWhitespace }
            return .string(t.trimmed(leading: name != "rstrip", trailing: name != "lstrip", where: remove))
        case "upper": return .string(t.derived(t.string.uppercased()))
        case "lower": return .string(t.derived(t.string.lowercased()))
        case "title": return .string(t.derived(t.string.pythonTitle))
        case "capitalize": return .string(t.derived(t.string.pythonCapitalized))
        case "startswith", "endswith":
            let candidates: [String]
            switch args.first {
            case let .string(p)?: candidates = [p.string]
            case let .tuple(items)?: candidates = items.compactMap { $0.text?.string }
            // Python refuses a list here: only a tuple of prefixes.
            default: throw Error(.runtime, "\(name) first arg must be str or a tuple of str, not \(args.first?.typeName ?? "nothing")")
            }
            let s = Array(t.scalars)
            return .bool(candidates.contains { c in
                let p = Array(c.unicodeScalars)
                return name == "startswith" ? s.starts(with: p) : s.reversed().starts(with: p.reversed())
            })
        case "split", "rsplit":
            let limit = args.count > 1 ? args[1].integer ?? -1 : -1
            return .list(t.string.pythonSplit(stringArgument(args, 0), limit: limit, fromRight: name == "rsplit").map { .string(t.derived($0)) })
        case "replace":
            guard let old = stringArgument(args, 0), let new = stringArgument(args, 1) else {
                throw Error(.runtime, "replace() takes two strings")
            }
            let limit = args.count > 2 ? args[2].integer ?? -1 : -1
            return .string(t.derived(t.string.pythonReplacing(old, with: new, limit: limit)))
        case "find":
            guard let needle = stringArgument(args, 0) else { throw Error(.runtime, "find() takes a string") }
            guard let r = t.string.range(of: needle) else { return .int(-1) }
            return .int(t.string.unicodeScalars.distance(from: t.string.startIndex, to: r.lowerBound))
        default:
            throw Error(.unsupported, "the string method '\(name)' is not supported")
        }
    }

    private func dictMethod(_ name: String, _ d: Jinja.Dict, _ args: [Value]) throws(Error) -> Value {
        switch name {
        case "items": return .list(d.pairs.map { .tuple([.string($0.key), $0.value]) })
        case "keys": return .list(d.keys.map { .string($0) })
        case "values": return .list(d.pairs.map(\.value))
        case "get":
            guard case let .string(key)? = args.first else { return args.count > 1 ? args[1] : .none }
            return d[key.string] ?? (args.count > 1 ? args[1] : .none)
        default:
            throw Error(.unsupported, "the dict method '\(name)' is not supported")
        }
    }
}

extension String {
    /// Python's `str.title()`: a letter after a non-letter starts a word.
    var pythonTitle: String {
        var out = "", previousCased = false
        for c in self {
            out += previousCased ? c.lowercased() : c.uppercased()
            previousCased = c.isLetter
        }
        return out
    }

    /// Python's `str.capitalize()`: the first character upper, the rest lower.
    var pythonCapitalized: String {
        guard let first else { return "" }
        return first.uppercased() + dropFirst().lowercased()
    }

    /// Python's `str.split(sep, maxsplit)`: no separator splits on runs of
    /// whitespace and drops empty pieces.
    func pythonSplit(_ separator: String?, limit: Int, fromRight: Bool = false) -> [String] {
        let scalars = Array(unicodeScalars)
        func text(_ s: ArraySlice<Unicode.Scalar>) -> String { String(String.UnicodeScalarView(s)) }
        guard let separator, !separator.isEmpty else {
            var pieces: [String] = [], current: [Unicode.Scalar] = []
            var k = 0
            while k < scalars.count {
                if scalars[k].isPythonWhitespace {
                    if !current.isEmpty { pieces.append(text(current[...])); current = [] }
                    if limit >= 0, pieces.count == limit {
                        let rest = scalars[k...].drop(while: \.isPythonWhitespace)
                        if !rest.isEmpty { pieces.append(text(rest)) }
                        return pieces
                    }
                } else {
                    current.append(scalars[k])
                }
                k += 1
            }
            if !current.isEmpty { pieces.append(text(current[...])) }
            return pieces
        }
        var pieces = components(separatedBy: separator)
        if limit >= 0, pieces.count > limit + 1 {
            if fromRight {
                let head = pieces[..<(pieces.count - limit)].joined(separator: separator)
                pieces = [head] + pieces[(pieces.count - limit)...]
            } else {
                pieces = Array(pieces[..<limit]) + [pieces[limit...].joined(separator: separator)]
            }
        }
        return pieces
    }

    func pythonReplacing(_ old: String, with new: String, limit: Int) -> String {
        let pieces = components(separatedBy: old)
        guard limit >= 0, pieces.count > limit + 1 else { return pieces.joined(separator: new) }
        return pieces[...limit].joined(separator: new) + old + pieces[(limit + 1)...].joined(separator: old)
    }
}
