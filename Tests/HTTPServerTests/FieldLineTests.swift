import Testing
@testable import HTTPServer

@Suite struct FieldLineTests {
    @Test func fieldsKeepOrderSpellingAndRepeats() throws {
        let request = try #require(onlyRequest(
            "GET / HTTP/1.1\r\nHost: a\r\nX-Tag: one\r\nx-tag: two\r\nAccept:*/*\r\n\r\n"))
        #expect(request.headers.count == 4)
        #expect(request.headers.map(\.name) == ["Host", "X-Tag", "x-tag", "Accept"])
        #expect(request.headers.values("X-TAG") == ["one", "two"])
        #expect(request.headers["accept"] == "*/*")
    }

    @Test func valuesAreTrimmedOfOptionalWhitespaceOnly() throws {
        let request = try #require(onlyRequest("GET / HTTP/1.1\r\nHost: a\r\nX-A: \t a \t b \t\r\nX-Empty:\r\nX-Blank: \t \r\n\r\n"))
        #expect(request.headers["X-A"] == "a \t b")
        #expect(request.headers["X-Empty"] == "")
        #expect(request.headers["X-Blank"] == "")
    }

    @Test func obsTextIsAllowedInValues() throws {
        let bytes: [UInt8] = Array("GET / HTTP/1.1\r\nHost: a\r\nX-A: caf".utf8) + [0xC3, 0xA9, 0x20, 0xFF] + Array("\r\n\r\n".utf8)
        let outcome = ParseOutcome(bytes)
        #expect(outcome.error == nil)
        #expect(outcome.requests.first?.headers["X-A"] == "café \u{FFFD}")
    }

    @Test(arguments: [
        ("X-A: b\r\n c", "obsolete line folding (line starting with whitespace) in header section"),
        (" X-A: b", "obsolete line folding (line starting with whitespace) in header section"),
        ("X-A : b", "whitespace before the colon in header section"),
        ("X-A\t: b", "whitespace before the colon in header section"),
        (": b", "empty field name in header section"),
        ("X-A b", "whitespace before the colon in header section"),
        ("X-A", "field line without a colon in header section"),
        ("X[A]: b", "invalid character in field name in header section"),
        ("X\u{0}A: b", "NUL byte in field name in header section"),
        ("X-A: b\u{0}", "NUL byte in field value in header section"),
        ("X-A: b\u{1}", "control character in field value in header section"),
        ("X-A: b\u{7F}", "control character in field value in header section"),
        ("X-A: b\rc", "bare CR in header section"),
        ("X-A: b\nX-B: c", "bare LF in header section"),
    ])
    func malformedFieldLines(line: String, message: String) {
        #expect(refusalError("GET / HTTP/1.1\r\nHost: a\r\n\(line)\r\n\r\n") == .badRequest(message))
    }

    @Test func hostIsRequiredOnceInHTTP11() throws {
        #expect(refusalError("GET / HTTP/1.1\r\n\r\n") == .badRequest("missing Host field"))
        #expect(refusalError("GET / HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n") == .badRequest("more than one Host field"))
        #expect(refusalError("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n") == .badRequest("more than one Host field"))
        #expect(refusalError("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == .badRequest("invalid Host field"))
        #expect(onlyRequest("GET / HTTP/1.0\r\n\r\n") != nil)
        #expect(onlyRequest("GET / HTTP/1.1\r\nHost:\r\n\r\n") != nil)  // RFC 9112 §3.2: empty when the target has no authority
        #expect(onlyRequest("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n") != nil)
    }

    @Test func headerSectionLimitCountsTheRequestLineAndEveryLineEnding() {
        var limits = HTTPLimits()
        limits.maxHeaderBytes = 64
        let head = "GET / HTTP/1.1\r\nHost: a\r\nX: "
        let room = 64 - head.utf8.count - 4  // the value's bytes that fit with "\r\n\r\n" after it
        #expect(onlyRequest(head + String(repeating: "v", count: room) + "\r\n\r\n", limits: limits) != nil)
        #expect(refusal(head + String(repeating: "v", count: room + 1) + "\r\n\r\n", limits: limits) == 431)
        // Incomplete: refused once the current line, with its LF, cannot fit.
        #expect(ParseOutcome(head + String(repeating: "v", count: room + 2), limits: limits).error == nil)
        #expect(refusal(head + String(repeating: "v", count: room + 4), limits: limits) == 431)
    }

    @Test func fieldCountLimit() {
        var limits = HTTPLimits()
        limits.maxHeaderCount = 3
        #expect(onlyRequest("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits: limits) != nil)
        #expect(refusalError("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n", limits: limits)
            == HTTPParseError(status: 431, message: "more than 3 header fields"))
    }
}
