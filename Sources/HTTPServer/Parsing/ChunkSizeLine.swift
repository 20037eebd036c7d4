/// chunk-size [ chunk-ext ] (RFC 9112 §7.1, §7.1.1). The extensions are
/// checked for shape and ignored:
/// chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ).
enum ChunkSizeLine {
    /// The chunk size of `line` (without its CRLF).
    static func size(of line: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> Int {
        var index = 0
        var size = 0
        while index < line.count, let digit = ASCII.hexValue(line[index]) {
            let (shifted, overflow) = size.multipliedReportingOverflow(by: 16)
            guard !overflow else { throw .badRequest("chunk size overflows") }
            size = shifted + digit
            index += 1
        }
        guard index > 0 else { throw invalid(line, at: index, "invalid chunk size") }
        try checkExtensions(line, from: index)
        return size
    }

    private static func checkExtensions(_ line: UnsafeBufferPointer<UInt8>, from start: Int) throws(HTTPParseError) {
        var index = start
        while index < line.count {
            let beforeSpace = index
            skipWhitespace(line, &index)
            // Whitespace is allowed only before a ";": "5 " is not a chunk size.
            guard index < line.count, line[index] == ASCII.semicolon else {
                throw invalid(line, at: index, beforeSpace == start ? "invalid chunk size" : "invalid chunk extension")
            }
            index += 1
            skipWhitespace(line, &index)
            guard skipToken(line, &index) else { throw invalid(line, at: index, "invalid chunk extension") }
            var afterName = index
            skipWhitespace(line, &afterName)
            guard afterName < line.count, line[afterName] == ASCII.equals else { continue }
            index = afterName + 1
            skipWhitespace(line, &index)
            guard skipToken(line, &index) || skipQuotedString(line, &index) else {
                throw invalid(line, at: index, "invalid chunk extension value")
            }
        }
    }

    /// The error for the byte at `index`, naming a bare CR as such.
    private static func invalid(_ line: UnsafeBufferPointer<UInt8>, at index: Int, _ message: String) -> HTTPParseError {
        index < line.count && line[index] == ASCII.cr ? .badRequest("bare CR in chunk size line") : .badRequest(message)
    }

    private static func skipWhitespace(_ line: UnsafeBufferPointer<UInt8>, _ index: inout Int) {
        while index < line.count, ASCII.isWhitespace(line[index]) { index += 1 }
    }

    /// Skips 1*tchar; false if there is none.
    private static func skipToken(_ line: UnsafeBufferPointer<UInt8>, _ index: inout Int) -> Bool {
        let start = index
        while index < line.count, ASCII.isTokenChar(line[index]) { index += 1 }
        return index > start
    }

    /// Skips DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4); false if malformed.
    private static func skipQuotedString(_ line: UnsafeBufferPointer<UInt8>, _ index: inout Int) -> Bool {
        guard index < line.count, line[index] == ASCII.quote else { return false }
        var cursor = index + 1
        while cursor < line.count {
            let byte = line[cursor]
            if byte == ASCII.quote {
                index = cursor + 1
                return true
            }
            if byte == ASCII.backslash {
                cursor += 1
                guard cursor < line.count, ASCII.isFieldValueByte(line[cursor]) else { return false }
            } else if !ASCII.isFieldValueByte(byte) {
                return false
            }
            cursor += 1
        }
        return false
    }
}
