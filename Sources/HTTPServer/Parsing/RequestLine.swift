/// request-line = method SP request-target SP HTTP-version (RFC 9112 §3),
/// with the target split into path and query by its form (§3.2).
struct RequestLine {
    var method: String
    var target: String
    var path: String
    var query: String?
    var version: HTTPVersion

    /// `line` is the request line without its CRLF.
    init(parsing line: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) {
        let methodEnd = try Self.methodEnd(line)
        let targetStart = methodEnd + 1
        let targetEnd = try Self.targetEnd(line, from: targetStart)
        version = try Self.version(UnsafeBufferPointer(rebasing: line[(targetEnd + 1)...]))
        method = ASCII.string(line[..<methodEnd])
        let targetBytes = UnsafeBufferPointer(rebasing: line[targetStart..<targetEnd])
        target = ASCII.string(targetBytes)
        (path, query) = try Self.pathAndQuery(of: targetBytes, method: method)
    }

    /// The offset of the single SP after the method token.
    private static func methodEnd(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> Int {
        var index = 0
        while index < line.count, ASCII.isTokenChar(line[index]) { index += 1 }
        guard index < line.count else {
            throw .badRequest(index == 0 ? "empty request line" : "request line has no request target")
        }
        switch line[index] {
        case ASCII.space where index == 0: throw .badRequest("request line starts with whitespace")
        case ASCII.space: return index
        case ASCII.cr: throw .badRequest("bare CR in request line")
        case ASCII.tab: throw .badRequest("method not followed by a single space")
        default: throw .badRequest("invalid character in method")
        }
    }

    /// The offset of the SP after the request-target, which is visible ASCII.
    private static func targetEnd(_ line: UnsafeBufferPointer<UInt8>, from start: Int) throws(HTTPParseError) -> Int {
        var index = start
        while index < line.count, line[index] != ASCII.space {
            let byte = line[index]
            if byte == ASCII.cr { throw .badRequest("bare CR in request line") }
            if !ASCII.isVisible(byte) { throw .badRequest("invalid character in request target") }
            index += 1
        }
        guard index > start else { throw .badRequest("empty request target (more than one space after the method)") }
        guard index < line.count else { throw .badRequest("request line has no HTTP version") }
        return index
    }

    /// HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive; well-formed
    /// versions other than 1.0 and 1.1 get 505, anything else 400.
    private static func version(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> HTTPVersion {
        let prefix: StaticString = "HTTP/"
        let wellFormed = bytes.count == 8
            && prefix.withUTF8Buffer { bytes.prefix(5).elementsEqual($0) }
            && ASCII.isDigit(bytes[5]) && bytes[6] == UInt8(ascii: ".") && ASCII.isDigit(bytes[7])
        guard wellFormed else {
            if bytes.contains(ASCII.cr) { throw .badRequest("bare CR in request line") }
            throw .badRequest("malformed HTTP version")
        }
        switch (bytes[5], bytes[7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): return .http1_1
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): return .http1_0
        default:
            throw HTTPParseError(status: 505, message: "HTTP version \(ASCII.string(bytes[5...])) not supported")
        }
    }

    /// The path and query of each request-target form, refusing a form the method may not use.
    private static func pathAndQuery(
        of target: UnsafeBufferPointer<UInt8>, method: String
    ) throws(HTTPParseError) -> (path: String, query: String?) {
        let isConnect = method == "CONNECT"
        if target[0] == ASCII.slash {
            guard !isConnect else { throw .badRequest("CONNECT needs an authority-form target (host:port)") }
            return splitQuery(target[...])
        }
        if target.count == 1, target[0] == UInt8(ascii: "*") {
            guard method == "OPTIONS" else { throw .badRequest("asterisk-form target is only for OPTIONS") }
            return ("*", nil)
        }
        if let afterScheme = schemeLength(target) {
            guard !isConnect else { throw .badRequest("CONNECT needs an authority-form target (host:port)") }
            let rest = target[afterScheme...]
            let authorityEnd = rest.firstIndex { $0 == ASCII.slash || $0 == ASCII.question } ?? rest.endIndex
            guard authorityEnd > afterScheme else { throw .badRequest("absolute-form target without a host") }
            let (path, query) = splitQuery(rest[authorityEnd...])
            return (path.isEmpty ? "/" : path, query)
        }
        guard isConnect else { throw .badRequest("invalid request target") }
        guard isAuthority(target) else { throw .badRequest("invalid authority-form target (want host:port)") }
        return ("", nil)
    }

    /// The length of "http://" or "https://" (any case) at the start of `target`.
    private static func schemeLength(_ target: UnsafeBufferPointer<UInt8>) -> Int? {
        if ASCII.hasPrefixIgnoringCase(target, "http://") { return 7 }
        if ASCII.hasPrefixIgnoringCase(target, "https://") { return 8 }
        return nil
    }

    /// authority-form = uri-host ":" port, with a non-empty host and port.
    private static func isAuthority(_ target: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let colon = target.lastIndex(of: ASCII.colon), colon > 0, colon < target.count - 1 else { return false }
        return target[(colon + 1)...].allSatisfy(ASCII.isDigit)
            && target[..<colon].allSatisfy(HostField.isHostByte)
    }

    private static func splitQuery(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> (path: String, query: String?) {
        guard let mark = bytes.firstIndex(of: ASCII.question) else { return (ASCII.string(bytes), nil) }
        return (ASCII.string(bytes[..<mark]), ASCII.string(bytes[(mark + 1)...]))
    }
}
