extension Jinja.Renderer {
    static let sortingFilterNames: Set<String> = ["dictsort", "sort", "unique", "min", "max"]

    /// Jinja2's filters that order or compare items: `dictsort`, `sort`,
    /// `unique`, `min` and `max`. Each compares strings case-insensitively
    /// unless `case_sensitive` is true, as Jinja2 does.
    func sortingFilter(_ name: String, _ value: Value, _ args: [Value], _ kwargs: [String: Value]) throws(Error) -> Value {
        func argument(_ k: Int, _ key: String) -> Value? { kwargs[key] ?? (k < args.count ? args[k] : nil) }
        switch name {
        case "dictsort":
            guard case let .dict(d) = try defined(value) else {
                throw Error(.runtime, "'\(value.typeName)' object has no attribute 'items'")
            }
            let by = argument(1, "by")?.text?.string ?? "key"
            guard by == "key" || by == "value" else { throw Error(.runtime, "You can only sort by either \"key\" or \"value\"") }
            let caseSensitive = argument(0, "case_sensitive")?.isTruthy ?? false
            let position = by == "key" ? 0 : 1
            let pairs = d.pairs.map { Value.tuple([.string($0.key), $0.value]) }
            return .list(try sorted(pairs, reverse: argument(2, "reverse")?.isTruthy ?? false) { pair in
                guard case let .tuple(p) = pair else { return pair }
                return Self.caseFolded(p[position], unless: caseSensitive)
            })
        case "sort":
            let key = try sortKey(argument(2, "attribute"), caseSensitive: argument(1, "case_sensitive")?.isTruthy ?? false, multiple: true)
            return .list(try sorted(try iterationItems(value), reverse: argument(0, "reverse")?.isTruthy ?? false, by: key))
        case "unique":
            let key = try sortKey(argument(1, "attribute"), caseSensitive: argument(0, "case_sensitive")?.isTruthy ?? false)
            var seen: [Value] = [], out: [Value] = []
            for item in try iterationItems(value) {
                let k = try key(item)
                switch k {
                case .list, .dict, .namespace: throw Error(.runtime, "unhashable type: '\(k.typeName)'")
                default: break
                }
                if !seen.contains(k) { seen.append(k); out.append(item) }
            }
            return .list(out)
        default:
            let key = try sortKey(argument(1, "attribute"), caseSensitive: argument(0, "case_sensitive")?.isTruthy ?? false)
            let items = try iterationItems(value)
            guard var best = items.first else { return .undefined("No aggregated item, sequence was empty.") }
            var bestKey = try key(best)
            // Python's min and max keep the first of equal items.
            for item in items.dropFirst() {
                let k = try key(item)
                let order = try ordering(k, bestKey, name == "min" ? "<" : ">")
                if name == "min" ? order < 0 : order > 0 { best = item; bestKey = k }
            }
            return best
        }
    }

    /// Jinja2's attribute getter: `a.b.0` walks items, a number part
    /// indexes; `sort` takes several, comma-separated, and compares them in turn.
    private func sortKey(_ attribute: Value?, caseSensitive: Bool, multiple: Bool = false) throws(Error) -> (Value) throws(Error) -> Value {
        let paths: [[Value]]
        switch attribute {
        case nil, .none?: paths = [[]]
        case let .string(t)?:
            let attributes = multiple ? t.string.split(separator: ",", omittingEmptySubsequences: false).map(String.init) : [t.string]
            paths = attributes.map { a in
                a.split(separator: ".", omittingEmptySubsequences: false).map { part in Int(part).map { .int($0) } ?? .string(String(part)) }
            }
        case let .int(n)?: paths = [[.int(n)]]
        default: throw Error(.runtime, "the attribute must be a string")
        }
        return { (v: Value) throws(Error) -> Value in
            var keys: [Value] = []
            for path in paths {
                var x = v
                for part in path { x = try self.item(x, part) }
                keys.append(Self.caseFolded(x, unless: caseSensitive))
            }
            return keys.count == 1 ? keys[0] : .list(keys)
        }
    }

    private static func caseFolded(_ v: Value, unless caseSensitive: Bool) -> Value {
        guard !caseSensitive, case let .string(t) = v else { return v }
        return .string(t.derived(t.string.lowercased()))
    }

    /// Python's `sorted(items, key=key, reverse=reverse)`: stable, also
    /// reversed, and an error when two keys cannot be ordered.
    private func sorted(_ items: [Value], reverse: Bool, by key: (Value) throws(Error) -> Value) throws(Error) -> [Value] {
        var keyed: [(key: Value, item: Value)] = []
        for item in items { keyed.append((try key(item), item)) }
        return try mergeSorted(keyed[...]) { (a, b) throws(Error) -> Bool in
            try ordering(reverse ? b.key : a.key, reverse ? a.key : b.key, "<") < 0
        }.map(\.item)
    }

    /// A merge sort, because Swift's sort neither promises stability nor
    /// takes a comparison that throws.
    private func mergeSorted<T>(_ items: ArraySlice<T>, _ less: (T, T) throws(Error) -> Bool) throws(Error) -> [T] {
        guard items.count > 1 else { return Array(items) }
        let middle = items.startIndex + items.count / 2
        let left = try mergeSorted(items[..<middle], less), right = try mergeSorted(items[middle...], less)
        var out: [T] = []
        out.reserveCapacity(items.count)
        var i = 0, j = 0
        while i < left.count, j < right.count {
            // Only a strictly smaller right item goes first: equal items keep their order.
            if try less(right[j], left[i]) { out.append(right[j]); j += 1 } else { out.append(left[i]); i += 1 }
        }
        return out + left[i...] + right[j...]
    }
}
