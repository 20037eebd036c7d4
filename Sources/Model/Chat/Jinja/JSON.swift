extension Jinja {
    /// transformers' `tojson`: `json.dumps(value, ensure_ascii=False,
    /// indent=indent)`, keys in insertion order, Python's separators
    /// (`", "` and `": "`, or `","` and a newline when indented).
    /// `ensureASCII` writes characters beyond ASCII as `\uXXXX` escapes
    /// (`tojson(ensure_ascii=True)`, Reka's template).
    struct JSONWriter {
        let indent: String?
        var ensureASCII = false
        var out = ""

        static func encode(_ value: Value, indent: Int?, ensureASCII: Bool = false) throws(Error) -> String {
            var writer = JSONWriter(indent: indent.map { String(repeating: " ", count: $0) }, ensureASCII: ensureASCII)
            try writer.write(value, level: 0)
            return writer.out
        }

        private mutating func write(_ value: Value, level: Int) throws(Error) {
            switch value {
            case .none: out += "null"
            case let .bool(b): out += b ? "true" : "false"
            case let .int(n): out += String(n)
            case let .double(x):
                out += x.isNaN ? "NaN" : x.isInfinite ? (x < 0 ? "-Infinity" : "Infinity") : x.pythonRepr
            case let .string(t): out += t.string.jsonQuoted(ensureASCII: ensureASCII)
            // json.dumps writes a tuple as an array.
            case let .list(items), let .tuple(items):
                try container("[", "]", items.count, level) { (w: inout JSONWriter, k: Int) throws(Error) in
                    try w.write(items[k], level: level + 1)
                }
            case let .dict(d):
                try object(d, level: level)
            case let .namespace(n):
                try object(n.attributes, level: level)
            case .undefined, .macro, .function:
                throw Error(.runtime, "Object of type \(value.typeName) is not JSON serializable")
            }
        }

        private mutating func object(_ d: Dict, level: Int) throws(Error) {
            let pairs = d.pairs
            try container("{", "}", pairs.count, level) { (w: inout JSONWriter, k: Int) throws(Error) in
                w.out += pairs[k].key.jsonQuoted(ensureASCII: w.ensureASCII) + ": "
                try w.write(pairs[k].value, level: level + 1)
            }
        }

        private mutating func container(_ open: String, _ close: String, _ count: Int, _ level: Int,
                                        _ item: (inout JSONWriter, Int) throws(Error) -> Void) throws(Error) {
            out += open
            guard count > 0 else { out += close; return }
            for k in 0..<count {
                if k > 0 { out += indent == nil ? ", " : "," }
                if let indent { out += "\n" + String(repeating: indent, count: level + 1) }
                try item(&self, k)
            }
            if let indent { out += "\n" + String(repeating: indent, count: level) }
            out += close
        }
    }
}

extension String {
    /// A JSON string as Python's json module writes it with ensure_ascii=False.
    var jsonQuoted: String { jsonQuoted(ensureASCII: false) }

    /// With `ensureASCII`, as ensure_ascii=True writes it: from U+007F a
    /// `\u` escape in lowercase hex, a UTF-16 surrogate pair above U+FFFF.
    func jsonQuoted(ensureASCII: Bool) -> String {
        var out = String.UnicodeScalarView(["\""])
        for u in unicodeScalars {
            switch u {
            case "\"": out.append(contentsOf: "\\\"".unicodeScalars)
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            case "\u{08}": out.append(contentsOf: "\\b".unicodeScalars)
            case "\u{0C}": out.append(contentsOf: "\\f".unicodeScalars)
            default:
                if u.value < 0x20 || (ensureASCII && u.value >= 0x7F) {
                    for unit in String(u).utf16 { out.append(contentsOf: ("\\u" + String(unit, radix: 16).leftPadded(4)).unicodeScalars) }
                } else {
                    out.append(u)
                }
            }
        }
        out.append("\"")
        return String(out)
    }
}
