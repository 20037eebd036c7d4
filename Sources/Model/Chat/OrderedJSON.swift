/// A JSON value that keeps the order of an object's members, as Python's
/// `json.loads` does. Tool definitions and call arguments reach chat
/// templates through `tojson`, which writes members in their order: a
/// Swift dictionary's order would change the prompt from one process to the
/// next (and with it the prefix cache's hits).
public indirect enum OrderedJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([OrderedJSON])
    case object([(key: String, value: OrderedJSON)])

    public static func == (a: OrderedJSON, b: OrderedJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)): return x.elementsEqual(y) { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The value of the member `key` of an object (the last, as Python keeps the last of repeated keys).
    public subscript(key: String) -> OrderedJSON? {
        guard case let .object(members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    public var stringValue: String? { if case let .string(s) = self { s } else { nil } }

    /// Python's `json.dumps(value, ensure_ascii=False)`: `", "` and `": "` separators.
    public var pythonJSON: String {
        // Jinja's `tojson` is exactly that; its writer cannot fail on values made from JSON.
        (try? Jinja.JSONWriter.encode(jinjaValue(message: nil), indent: nil)) ?? "null"
    }

    /// Compact JSON text (no spaces), as OpenAI writes a call's arguments.
    public var compactJSON: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .integer(n): return String(n)
        case .number: return pythonJSON
        case let .string(s): return s.jsonQuoted
        case let .array(items): return "[" + items.map(\.compactJSON).joined(separator: ",") + "]"
        case let .object(members): return "{" + members.map { $0.key.jsonQuoted + ":" + $0.value.compactJSON }.joined(separator: ",") + "}"
        }
    }

    /// The value as a template sees it; strings (and, through `tojson`,
    /// what is written from them) are the content of `message`, never markup.
    func jinjaValue(message: Int?) -> Jinja.Value {
        switch self {
        case .null: return .none
        case let .bool(b): return .bool(b)
        case let .integer(n): return .int(n)
        case let .number(x): return .double(x)
        case let .string(s): return .string(Jinja.Text(s, message: message))
        case let .array(items): return .list(items.map { $0.jinjaValue(message: message) })
        case let .object(members):
            var dict = Jinja.Dict()
            for (k, v) in members { dict[k] = v.jinjaValue(message: message) }
            return .dict(dict)
        }
    }
}

extension OrderedJSON {
    public struct SyntaxError: Error, Equatable, CustomStringConvertible {
        public let offset: Int
        public let reason: String
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    /// Parses one JSON document (RFC 8259), surrounding whitespace allowed.
    public static func parse(_ text: String) throws(SyntaxError) -> OrderedJSON {
        var parser = Parser(bytes: Array(text.utf8))
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.at == parser.bytes.count else { throw parser.error("text after the JSON value") }
        return value
    }

    /// Parses the JSON value at the start of `text`; returns it and how many
    /// UTF-8 bytes it took (leading whitespace included), or nil when the
    /// text does not begin with a whole JSON value.
    public static func parsePrefix(_ text: Substring) -> (OrderedJSON, Int)? {
        var parser = Parser(bytes: Array(text.utf8))
        guard let value = try? parser.value(depth: 0) else { return nil }
        return (value, parser.at)
    }

    struct Parser {
        let bytes: [UInt8]
        var at = 0

        func error(_ reason: String) -> SyntaxError { SyntaxError(offset: at, reason: reason) }

        mutating func skipWhitespace() {
            while at < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[at]) { at += 1 }
        }

        mutating func value(depth: Int) throws(SyntaxError) -> OrderedJSON {
            guard depth < 512 else { throw error("nested too deeply") }
            skipWhitespace()
            guard at < bytes.count else { throw error("unexpected end") }
            switch bytes[at] {
            case UInt8(ascii: "{"):
                at += 1
                var members: [(key: String, value: OrderedJSON)] = []
                skipWhitespace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(members) }
                while true {
                    skipWhitespace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw error("expected a member name") }
                    let key = try string()
                    skipWhitespace()
                    try expect(":")
                    members.append((key, try value(depth: depth + 1)))
                    skipWhitespace()
                    if try endOfContainer("}") { return .object(members) }
                }
            case UInt8(ascii: "["):
                at += 1
                var items: [OrderedJSON] = []
                skipWhitespace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                while true {
                    items.append(try value(depth: depth + 1))
                    skipWhitespace()
                    if try endOfContainer("]") { return .array(items) }
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default: return try number()
            }
        }

        /// After a member or item: true at the closing bracket, false after a comma.
        mutating func endOfContainer(_ close: Unicode.Scalar) throws(SyntaxError) -> Bool {
            guard at < bytes.count else { throw error("unexpected end") }
            if bytes[at] == UInt8(ascii: close) { at += 1; return true }
            try expect(",")
            return false
        }

        mutating func expect(_ c: Unicode.Scalar) throws(SyntaxError) {
            guard at < bytes.count, bytes[at] == UInt8(ascii: c) else { throw error("expected '\(c)'") }
            at += 1
        }

        mutating func literal(_ word: String) throws(SyntaxError) {
            let w = Array(word.utf8)
            guard bytes.count - at >= w.count, Array(bytes[at..<at + w.count]) == w else { throw error("unexpected character") }
            at += w.count
        }

        mutating func number() throws(SyntaxError) -> OrderedJSON {
            let start = at
            func digits() -> Int { let s = at; while at < bytes.count, (0x30...0x39).contains(bytes[at]) { at += 1 }; return at - s }
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            let intStart = at
            guard digits() > 0 else { throw error("unexpected character") }
            if bytes[intStart] == UInt8(ascii: "0"), at - intStart > 1 { throw error("a number with a leading zero") }
            var integral = true
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1; integral = false
                guard digits() > 0 else { throw error("expected digits after '.'") }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1; integral = false
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard digits() > 0 else { throw error("expected digits in the exponent") }
            }
            let text = String(decoding: bytes[start..<at], as: UTF8.self)
            if integral, let n = Int(text) { return .integer(n) }
            return .number(Double(text) ?? .infinity)
        }

        mutating func string() throws(SyntaxError) -> String {
            at += 1  // the opening quote
            var out: [UInt8] = []
            while at < bytes.count {
                let b = bytes[at]
                at += 1
                switch b {
                case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard at < bytes.count else { throw error("unexpected end") }
                    let e = bytes[at]
                    at += 1
                    let simple: [UInt8: UInt8] = [0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 0x08, 0x66: 0x0C, 0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09]
                    if let s = simple[e] { out.append(s); continue }
                    guard e == UInt8(ascii: "u") else { throw error("an unknown escape") }
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar), bytes.count - at >= 6, bytes[at] == 0x5C, bytes[at + 1] == UInt8(ascii: "u") {
                        let saved = at
                        at += 2
                        let low = try hex4()
                        if (0xDC00...0xDFFF).contains(low) { scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00) } else { at = saved }
                    }
                    // A lone surrogate (Python keeps it) cannot be a Swift string: U+FFFD.
                    out.append(contentsOf: Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8))
                case 0..<0x20: throw error("a control character in a string")
                default: out.append(b)
                }
            }
            throw error("an unterminated string")
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard bytes.count - at >= 4, let v = UInt32(String(decoding: bytes[at..<at + 4], as: UTF8.self), radix: 16) else {
                throw error("a bad \\u escape")
            }
            at += 4
            return v
        }
    }
}
