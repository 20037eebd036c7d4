/// Decodes the escape syntax of the fixture files (described in their
/// headers): \r \n \t \0 \\ \xHH, and \{N:TEXT} for TEXT repeated N times
/// (TEXT ends at the "}" that matches, so repetitions nest).
enum EscapedBytes {
    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    static func decode(_ text: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var input = Array(text.utf8)[...]
        while let byte = input.popFirst() {
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                continue
            }
            guard let kind = input.popFirst() else { throw Malformed(description: "trailing backslash in \(text)") }
            switch kind {
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "0"): out.append(0x00)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "x"):
                guard input.count >= 2, let value = UInt8(String(decoding: input.prefix(2), as: UTF8.self), radix: 16) else {
                    throw Malformed(description: "bad \\x escape in \(text)")
                }
                out.append(value)
                input = input.dropFirst(2)
            case UInt8(ascii: "{"):
                guard let close = matchingBrace(in: input),
                      let colon = input[..<close].firstIndex(of: UInt8(ascii: ":")),
                      let times = Int(String(decoding: input[..<colon], as: UTF8.self))
                else { throw Malformed(description: "bad \\{N:TEXT} in \(text)") }
                let unit = try decode(String(decoding: input[(colon + 1)..<close], as: UTF8.self))
                for _ in 0..<times { out += unit }
                input = input[(close + 1)...]
            default:
                throw Malformed(description: "unknown escape \\\(Character(UnicodeScalar(kind))) in \(text)")
            }
        }
        return out
    }

    /// The index of the "}" closing a repetition whose "\{" was just read.
    private static func matchingBrace(in input: ArraySlice<UInt8>) -> Int? {
        var depth = 1
        var previous: UInt8 = 0
        for index in input.indices {
            let byte = input[index]
            if byte == UInt8(ascii: "{"), previous == UInt8(ascii: "\\") { depth += 1 }
            if byte == UInt8(ascii: "}") {
                depth -= 1
                if depth == 0 { return index }
            }
            // An escaped backslash must not escape what follows it.
            previous = previous == UInt8(ascii: "\\") && byte == UInt8(ascii: "\\") ? 0 : byte
        }
        return nil
    }
}
