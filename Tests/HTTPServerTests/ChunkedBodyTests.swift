import Testing
@testable import HTTPServer

/// The chunked transfer coding (RFC 9112 §7.1).
@Suite struct ChunkedBodyTests {
    private func chunked(_ body: String) -> String {
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    }

    @Test func chunksAreJoinedAndTrailersDiscarded() throws {
        let request = try #require(onlyRequest(chunked("5\r\nhello\r\nA;ext=1;q=\"v\\\"\"\r\n, world!!!\r\n0\r\nX-Sum: 1\r\nX-More: 2\r\n\r\n")))
        #expect(String(decoding: request.body, as: UTF8.self) == "hello, world!!!")
        #expect(request.headers.contains("X-Sum") == false)
    }

    @Test func hexSizesAnyCaseWithLeadingZeros() throws {
        let request = try #require(onlyRequest(chunked("0000a\r\n0123456789\r\nB\r\n0123456789a\r\n00\r\n\r\n")))
        #expect(request.body.count == 21)
    }

    @Test(arguments: [
        (" 5", "invalid chunk size"),
        ("", "invalid chunk size"),
        ("x5", "invalid chunk size"),
        ("0x5", "invalid chunk size"),
        ("-5", "invalid chunk size"),
        ("5 ", "invalid chunk size"),
        ("5;", "invalid chunk extension"),
        ("5;a;", "invalid chunk extension"),
        ("5;a ", "invalid chunk extension"),
        ("5;a=", "invalid chunk extension value"),
        ("5;a=\"x", "invalid chunk extension value"),
        ("5;a=\"\u{1}\"", "invalid chunk extension value"),
        ("5;a=b c", "invalid chunk extension"),
        ("5\r", "bare CR in chunk size line"),
        ("10000000000000000", "chunk size overflows"),
    ])
    func malformedChunkSizeLines(line: String, message: String) {
        #expect(refusalError(chunked(line + "\r\nhello\r\n0\r\n\r\n")) == .badRequest(message))
    }

    @Test func extensionsWithWhitespaceAroundSeparators() throws {
        #expect(onlyRequest(chunked("5 ; a = b ;c\t=\t\"q d\"\r\nhello\r\n0\r\n\r\n")) != nil)
    }

    @Test func dataMustEndWithCRLF() {
        let refused = HTTPParseError.badRequest("chunk data not followed by CRLF")
        #expect(refusalError(chunked("5\r\nhelloX\r\n0\r\n\r\n")) == refused)
        #expect(refusalError(chunked("5\r\nhello\rX0\r\n\r\n")) == refused)
        #expect(refusalError(chunked("5\r\nhello\n0\r\n\r\n")) == refused)
        // A wrong first byte is refused without waiting for the second.
        #expect(refusalError(chunked("5\r\nhelloX")) == refused)
        #expect(ParseOutcome(chunked("5\r\nhello\r")).error == nil)
    }

    @Test func decodedSizeLimitIsCheckedAsSoonAsASizeIsKnown() {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 8
        #expect(onlyRequest(chunked("5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"), limits: limits) != nil)
        let outcome = ParseOutcome(chunked("5\r\nhello\r\n4\r\n"), limits: limits)
        #expect(outcome.error == HTTPParseError(status: 413, message: "chunked body exceeds the limit of 8 bytes"))
        #expect(refusal(chunked("7fffffffffffffff\r\n"), limits: limits) == 413)
    }

    @Test func trailersCountTowardTheHeaderLimits() {
        var limits = HTTPLimits()
        limits.maxHeaderCount = 3
        #expect(onlyRequest(chunked("0\r\nA: 1\r\n\r\n"), limits: limits) != nil)
        #expect(refusal(chunked("0\r\nA: 1\r\nB: 2\r\n\r\n"), limits: limits) == 431)
        limits = HTTPLimits()
        limits.maxHeaderBytes = 100
        let head = chunked("")
        let room = 100 - head.utf8.count - "X: \r\n\r\n".utf8.count
        #expect(onlyRequest(chunked("0\r\nX: " + String(repeating: "t", count: room) + "\r\n\r\n"), limits: limits) != nil)
        #expect(refusal(chunked("0\r\nX: " + String(repeating: "t", count: room + 1) + "\r\n\r\n"), limits: limits) == 431)
    }

    @Test func malformedTrailers() {
        #expect(refusalError(chunked("0\r\nX : 1\r\n\r\n")) == .badRequest("whitespace before the colon in trailer section"))
        #expect(refusalError(chunked("0\r\nX: 1\r\n folded\r\n\r\n")) == .badRequest("obsolete line folding (line starting with whitespace) in trailer section"))
        #expect(refusalError(chunked("0\r\nX: 1\n\r\n")) == .badRequest("bare LF in trailer section"))
    }

    @Test func manySmallChunksTakeLinearTime() throws {
        let chunks = String(repeating: "1\r\nz\r\n", count: 300_000)
        let request = try #require(onlyRequest(chunked(chunks + "0\r\n\r\n")))
        #expect(request.body.count == 300_000)
    }

    @Test func chunkLineLimit() {
        var limits = HTTPLimits()
        limits.maxChunkLineBytes = 16
        #expect(onlyRequest(chunked("5;" + String(repeating: "e", count: 12) + "\r\nhello\r\n0\r\n\r\n"), limits: limits) != nil)
        #expect(refusalError(chunked("5;" + String(repeating: "e", count: 13) + "\r\nhello\r\n0\r\n\r\n"), limits: limits)
            == .badRequest("chunk size line longer than 16 bytes"))
    }
}
