extension Jinja.Renderer {
    /// `x.name`: a dict's key or a namespace's attribute; anything else is
    /// undefined, and reading from undefined is an error (Jinja2's default Undefined).
    func attribute(_ base: Value, _ name: String) throws(Error) -> Value {
        switch try defined(base) {
        case let .dict(d): return d[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case let .namespace(ns): return ns.attributes[name] ?? .undefined("'Namespace object' has no attribute '\(name)'")
        default: return .undefined("'\(base.typeName) object' has no attribute '\(name)'")
        }
    }

    /// `x[i]`: Python indexing (negative from the end); a missing item is undefined.
    func item(_ base: Value, _ index: Value) throws(Error) -> Value {
        switch (try defined(base), index) {
        case let (.dict(d), .string(key)):
            return d[key.string] ?? .undefined("'dict object' has no attribute '\(key.string)'")
        case let (.namespace(ns), .string(key)):
            return ns.attributes[key.string] ?? .undefined("'Namespace object' has no attribute '\(key.string)'")
        case let (.list(items), .int(k)), let (.tuple(items), .int(k)):
            let j = k < 0 ? items.count + k : k
            return items.indices.contains(j) ? items[j] : .undefined("\(base.typeName) object has no element \(k)")
        case let (.string(t), .int(k)):
            let scalars = Array(t.scalars)
            let j = k < 0 ? scalars.count + k : k
            return scalars.indices.contains(j) ? .string(t.derived(String(scalars[j]))) : .undefined("str object has no element \(k)")
        case let (_, .string(key)):
            return try attribute(base, key.string)
        default:
            return .undefined("'\(base.typeName) object' has no element \(index.pythonRepr)")
        }
    }

    /// `x[a:b:c]` on a list, a tuple or a string, with Python's bounds.
    func slice(_ base: Value, start: Value?, stop: Value?, step: Value?) throws(Error) -> Value {
        func int(_ v: Value?) throws(Error) -> Int? {
            switch v {
            case nil, .none?: return nil
            case let .int(n)?: return n
            default: throw Error(.runtime, "slice indices must be integers or None")
            }
        }
        let by = try int(step) ?? 1
        guard by != 0 else { throw Error(.runtime, "slice step cannot be zero") }
        switch try defined(base) {
        case let .list(items):
            return .list(Self.indices(items.count, try int(start), try int(stop), by).map { items[$0] })
        case let .tuple(items):
            return .tuple(Self.indices(items.count, try int(start), try int(stop), by).map { items[$0] })
        case let .string(t):
            let scalars = Array(t.scalars)
            var view = String.UnicodeScalarView()
            for k in Self.indices(scalars.count, try int(start), try int(stop), by) { view.append(scalars[k]) }
            return .string(t.derived(String(view)))
        default:
            throw Error(.runtime, "'\(base.typeName)' object is not subscriptable")
        }
    }

    /// The indices Python's `range(*slice(a, b, c).indices(count))` gives.
    static func indices(_ count: Int, _ start: Int?, _ stop: Int?, _ step: Int) -> [Int] {
        func clamp(_ v: Int, _ low: Int, _ high: Int) -> Int {
            let w = v < 0 ? v + count : v
            return min(max(w, low), high)
        }
        if step > 0 {
            let a = start.map { clamp($0, 0, count) } ?? 0
            let b = stop.map { clamp($0, 0, count) } ?? count
            return a < b ? Array(stride(from: a, to: b, by: step)) : []
        }
        let a = start.map { clamp($0, -1, count - 1) } ?? count - 1
        let b = stop.map { clamp($0, -1, count - 1) } ?? -1
        return a > b ? Array(stride(from: a, to: b, by: step)) : []
    }
}
