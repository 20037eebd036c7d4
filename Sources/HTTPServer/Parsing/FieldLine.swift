/// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5), for header
/// and trailer sections alike.
struct FieldLine {
    /// Offsets in the line of the name and of the value with OWS trimmed.
    var name: Range<Int>
    var value: Range<Int>

    /// `line` is one non-empty field line without its CRLF; `section` names
    /// where it stands, for the messages.
    init(parsing line: UnsafeBufferPointer<UInt8>, in section: String) throws(HTTPParseError) {
        if ASCII.isWhitespace(line[0]) {
            throw .badRequest("obsolete line folding (line starting with whitespace) in \(section)")
        }
        var colon = 0
        while colon < line.count, ASCII.isTokenChar(line[colon]) { colon += 1 }
        guard colon < line.count else { throw .badRequest("field line without a colon in \(section)") }
        switch line[colon] {
        case ASCII.colon where colon == 0: throw .badRequest("empty field name in \(section)")
        case ASCII.colon: break
        case ASCII.space, ASCII.tab: throw .badRequest("whitespace before the colon in \(section)")
        case ASCII.cr: throw .badRequest("bare CR in \(section)")
        case ASCII.nul: throw .badRequest("NUL byte in field name in \(section)")
        default: throw .badRequest("invalid character in field name in \(section)")
        }
        for byte in line[(colon + 1)...] where !ASCII.isFieldValueByte(byte) {
            switch byte {
            case ASCII.cr: throw .badRequest("bare CR in \(section)")
            case ASCII.nul: throw .badRequest("NUL byte in field value in \(section)")
            default: throw .badRequest("control character in field value in \(section)")
            }
        }
        var start = colon + 1
        var end = line.count
        while start < end, ASCII.isWhitespace(line[start]) { start += 1 }
        while end > start, ASCII.isWhitespace(line[end - 1]) { end -= 1 }
        name = 0..<colon
        value = start..<end
    }
}
