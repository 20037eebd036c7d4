import Synchronization

/// Why a text is not JSON, and the byte offset where that was found.
public struct JSONSyntaxError: Error, Equatable, CustomStringConvertible {
    public let offset: Int
    public let reason: String
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

extension JSON {
    /// Documents parsed by this process, so that a test (and `/metrics`)
    /// can check that a request body is parsed once.
    public static var documentsParsed: Int { parseCount.load(ordering: .relaxed) }
    private static let parseCount = Atomic<Int>(0)

    /// Parses one JSON document (RFC 8259), surrounding whitespace allowed.
    /// Strings must be UTF-8 and a `\u` escape a whole scalar (a lone
    /// surrogate has no Swift string); documents nest at most `maxDepth`.
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONSyntaxError) -> JSON {
        parseCount.add(1, ordering: .relaxed)
        var parser = JSONParser(bytes: Array(bytes))
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.at == parser.bytes.count else { throw parser.error("text after the JSON value") }
        return value
    }

    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSON { try parse(text.utf8) }

    /// Parses the JSON value at the start of `text` (a tool call the model
    /// wrote, with text after it); returns it and how many UTF-8 bytes it
    /// took, leading whitespace included, or nil when the text does not
    /// begin with a whole JSON value.
    public static func parsePrefix(_ text: Substring) -> (JSON, Int)? {
        parseCount.add(1, ordering: .relaxed)
        var parser = JSONParser(bytes: Array(text.utf8))
        guard let value = try? parser.value(depth: 0) else { return nil }
        return (value, parser.at)
    }

    /// A hexadecimal digit's value (`\u` escapes; the schema automaton reads them too).
    public static func hexDigitValue(_ b: UInt8) -> UInt32? {
        switch b {
        case 0x30...0x39: UInt32(b - 0x30)
        case 0x41...0x46: UInt32(b - 0x41 + 10)
        case 0x61...0x66: UInt32(b - 0x61 + 10)
        default: nil
        }
    }

    /// Deeper documents are refused rather than risk the stack of every
    /// reader that walks them recursively (schema compiler, templates).
    public static let maxDepth = 256
}

/// A recursive-descent parser over UTF-8 bytes.
struct JSONParser {
    let bytes: [UInt8]
    var at = 0

    func error(_ reason: String) -> JSONSyntaxError { JSONSyntaxError(offset: at, reason: reason) }

    mutating func skipWhitespace() {
        while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
    }

    mutating func expect(_ literal: String) throws(JSONSyntaxError) {
        for b in literal.utf8 {
            guard at < bytes.count, bytes[at] == b else { throw error("expected \(literal)") }
            at += 1
        }
    }

    mutating func value(depth: Int) throws(JSONSyntaxError) -> JSON {
        guard depth < JSON.maxDepth else { throw error("nested deeper than \(JSON.maxDepth)") }
        skipWhitespace()
        guard at < bytes.count else { throw error("unexpected end") }
        switch bytes[at] {
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "["):
            at += 1
            var items: [JSON] = []
            skipWhitespace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
            while true {
                items.append(try value(depth: depth + 1))
                if try endOfContainer("]") { return .array(items) }
            }
        case UInt8(ascii: "{"):
            at += 1
            var members = Members()
            skipWhitespace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object([]) }
            while true {
                skipWhitespace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw error("expected a member name") }
                let key = try string()
                skipWhitespace()
                try expect(":")
                members.set(key, try value(depth: depth + 1))
                if try endOfContainer("}") { return .object(members.list) }
            }
        default:
            return .number(try number())
        }
    }

    /// After a member or item: true at the closing bracket, false after a comma.
    mutating func endOfContainer(_ close: Unicode.Scalar) throws(JSONSyntaxError) -> Bool {
        skipWhitespace()
        guard at < bytes.count else { throw error("unexpected end") }
        if bytes[at] == UInt8(ascii: close) { at += 1; return true }
        guard bytes[at] == UInt8(ascii: ",") else { throw error("expected , or \(close)") }
        at += 1
        return false
    }

    /// An object's members as they are read: a repeated key's value
    /// replaces the earlier one where it stood.
    struct Members {
        var list: [(key: String, value: JSON)] = []
        /// Built once an object is large enough for linear search to cost.
        var index: [String: Int]?

        mutating func set(_ key: String, _ value: JSON) {
            if index == nil, list.count >= 16 {
                index = Dictionary(list.enumerated().map { ($0.element.key, $0.offset) }, uniquingKeysWith: { $1 })
            }
            let existing = index.map { $0[key] } ?? list.firstIndex { $0.key == key }
            if let existing {
                list[existing].value = value
            } else {
                index?[key] = list.count
                list.append((key, value))
            }
        }
    }

    mutating func number() throws(JSONSyntaxError) -> String {
        let start = at
        func digits() -> Int {
            let from = at
            while at < bytes.count, (0x30...0x39).contains(bytes[at]) { at += 1 }
            return at - from
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
        guard at < bytes.count, (0x30...0x39).contains(bytes[at]) else { throw error("expected a value") }
        if bytes[at] == UInt8(ascii: "0") {
            at += 1
            if at < bytes.count, (0x30...0x39).contains(bytes[at]) { throw error("a number with a leading zero") }
        } else {
            _ = digits()
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
            at += 1
            guard digits() > 0 else { throw error("expected a digit after .") }
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
            at += 1
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard digits() > 0 else { throw error("expected an exponent") }
        }
        return String(decoding: bytes[start..<at], as: UTF8.self)
    }

    mutating func string() throws(JSONSyntaxError) -> String {
        at += 1  // the opening quote
        var out: [UInt8] = []
        while true {
            guard at < bytes.count else { throw error("unterminated string") }
            let b = bytes[at]
            switch b {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else { throw error("a string is not valid UTF-8") }
                at += 1
                return s
            case UInt8(ascii: "\\"):
                at += 1
                guard at < bytes.count else { throw error("unterminated escape") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    let escape = at - 2
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), bytes.count - at >= 6, bytes[at] == 0x5C, bytes[at + 1] == UInt8(ascii: "u") {
                        at += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else {
                            throw JSONSyntaxError(offset: escape, reason: "a lone surrogate \\u\(hex(scalar))")
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else {
                        throw JSONSyntaxError(offset: escape, reason: "a lone surrogate \\u\(hex(scalar))")
                    }
                    out += Array(String(u).utf8)
                default: throw error("an unknown escape")
                }
            case 0..<0x20: throw error("a control character in a string")
            default:
                out.append(b)
                at += 1
            }
        }
    }

    private func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard at < bytes.count, let d = JSON.hexDigitValue(bytes[at]) else { throw error("expected 4 hex digits") }
            v = v << 4 | d
            at += 1
        }
        return v
    }
}
