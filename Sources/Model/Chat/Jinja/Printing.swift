extension Jinja.Value {
    /// What `{{ value }}` prints: Python's `str()`, with undefined as "".
    var printed: Jinja.Text {
        switch self {
        case .undefined: return Jinja.Text("")
        case let .string(t): return t
        case .list, .tuple, .dict, .namespace:
            // A container's repr shows its content: it stays content.
            let text = Jinja.Text(pythonRepr)
            return contentMessage.map { Jinja.Text(text.string, message: $0) } ?? text
        default: return Jinja.Text(pythonRepr)
        }
    }

    /// The first message whose content appears anywhere in this value.
    var contentMessage: Int? {
        switch self {
        case let .string(t): return t.contentMessage
        case let .list(items), let .tuple(items): return items.lazy.compactMap(\.contentMessage).first
        case let .dict(d): return d.pairs.lazy.compactMap(\.value.contentMessage).first
        case let .namespace(n): return Jinja.Value.dict(n.attributes).contentMessage
        default: return nil
        }
    }

    /// Python's `repr()`, which `str()` of a container uses for its items.
    var pythonRepr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case let .bool(b): return b ? "True" : "False"
        case let .int(n): return String(n)
        case let .double(x): return x.pythonRepr
        case let .string(t): return t.string.pythonQuoted
        case let .list(items): return "[" + items.map(\.pythonRepr).joined(separator: ", ") + "]"
        // A one-item tuple keeps its comma: `(1,)`, as `(1)` would be the number.
        case let .tuple(items): return "(" + items.map(\.pythonRepr).joined(separator: ", ") + (items.count == 1 ? ",)" : ")")
        case let .dict(d): return d.pythonRepr
        case let .namespace(n): return "<Namespace \(n.attributes.pythonRepr)>"
        case let .macro(m): return "<Macro '\(m.definition.name)'>"
        case let .function(name): return "<function \(name)>"
        }
    }
}

extension Jinja.Dict {
    var pythonRepr: String {
        "{" + pairs.map { "\($0.key.pythonQuoted): \($0.value.pythonRepr)" }.joined(separator: ", ") + "}"
    }
}

extension Double {
    /// Python's float repr: the shortest round-tripping digits, exponent
    /// from 1e16 and below 1e-4, `inf` and `nan`.
    var pythonRepr: String {
        if isNaN { return "nan" }
        if isInfinite { return self < 0 ? "-inf" : "inf" }
        // Swift's description is the same shortest form with the same thresholds.
        return description
    }
}

extension String {
    /// Python's repr of a str: single quotes unless the text has one and no double.
    var pythonQuoted: String {
        let quote: Unicode.Scalar = contains("'") && !contains("\"") ? "\"" : "'"
        var out = String.UnicodeScalarView([quote])
        for u in unicodeScalars {
            switch u {
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            case quote: out.append("\\"); out.append(u)
            default:
                if u.value < 0x20 || (0x7F...0xA0).contains(u.value) {
                    out.append(contentsOf: ("\\x" + String(u.value, radix: 16).leftPadded(2)).unicodeScalars)
                } else {
                    out.append(u)
                }
            }
        }
        out.append(quote)
        return String(out)
    }

    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: Swift.max(0, width - count)) + self }
}
