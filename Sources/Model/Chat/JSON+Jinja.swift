import JSONTree

extension JSON {
    /// Python's `json.dumps(value, ensure_ascii=False)`: `", "` and `": "`
    /// separators, as Jinja's `tojson` writes tool definitions and call
    /// arguments into a prompt.
    public var pythonJSON: String {
        // The writer fails only on values JSON cannot hold (undefined, macros).
        (try? Jinja.JSONWriter.encode(jinjaValue(message: nil), indent: nil)) ?? "null"
    }

    /// The value as a template sees it (a whole number as an int, any other
    /// number as a float, as Python's json module reads them); strings (and,
    /// through `tojson`, what is written from them) are the content of
    /// `message`, never markup.
    func jinjaValue(message: Int?) -> Jinja.Value {
        switch self {
        case .null: return .none
        case let .bool(b): return .bool(b)
        case let .number(text):
            if let n = Int(text) { return .int(n) }
            return .double(Double(text) ?? .infinity)
        case let .string(s): return .string(Jinja.Text(s, message: message))
        case let .array(items): return .list(items.map { $0.jinjaValue(message: message) })
        case let .object(members):
            var dict = Jinja.Dict()
            for (k, v) in members { dict[k] = v.jinjaValue(message: message) }
            return .dict(dict)
        }
    }
}
