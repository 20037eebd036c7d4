import Testing
@testable import HTTPServer

/// Content-Length, Transfer-Encoding, Expect and Connection (RFC 9112 §6, §9.3; RFC 9110 §10.1.1).
@Suite struct FramingTests {
    private func post(_ fields: String, body: String = "") -> String {
        "POST / HTTP/1.1\r\nHost: a\r\n\(fields)\r\n\(body)"
    }

    @Test func contentLengthBody() throws {
        let request = try #require(onlyRequest(post("Content-Length: 5\r\n", body: "hello")))
        #expect(request.body == Array("hello".utf8))
        #expect(ParseOutcome(post("Content-Length: 5\r\n", body: "hell")).requests.isEmpty)
    }

    @Test func noLengthMeansNoBody() throws {
        let outcome = ParseOutcome(post("", body: "GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(outcome.requests.map(\.method) == ["POST", "GET"])
        #expect(outcome.requests[0].body.isEmpty)
    }

    @Test func repeatedContentLengthsMustAgree() throws {
        #expect(try #require(onlyRequest(post("Content-Length: 3\r\nContent-Length: 3\r\n", body: "abc"))).body.count == 3)
        #expect(try #require(onlyRequest(post("Content-Length: 3, 3,3\r\n", body: "abc"))).body.count == 3)
        #expect(refusalError(post("Content-Length: 3\r\nContent-Length: 4\r\n", body: "abcd")) == .badRequest("conflicting Content-Length values"))
        #expect(refusalError(post("Content-Length: 3, 4\r\n", body: "abcd")) == .badRequest("conflicting Content-Length values"))
        #expect(refusalError(post("Content-Length: 3, 03\r\n", body: "abc")) == .badRequest("conflicting Content-Length values"))
    }

    @Test(arguments: ["-1", "+1", "1.0", "0x1", "1 1", "", "1,", ",1", "one", "١"])
    func malformedContentLength(value: String) {
        #expect(refusalError(post("Content-Length: \(value)\r\n")) == .badRequest("invalid Content-Length"))
    }

    @Test func contentLengthLimits() {
        #expect(refusalError(post("Content-Length: 99999999999999999999\r\n")) == .badRequest("Content-Length too large"))
        var limits = HTTPLimits()
        limits.maxBodyBytes = 10
        #expect(onlyRequest(post("Content-Length: 10\r\n", body: "0123456789"), limits: limits) != nil)
        // Refused at the head: no .head event, no body read.
        let outcome = ParseOutcome(post("Content-Length: 11\r\n"), limits: limits)
        #expect(outcome.events.isEmpty)
        #expect(outcome.error == HTTPParseError(status: 413, message: "body of 11 bytes exceeds the limit of 10"))
    }

    @Test func transferEncodingMustBeExactlyChunked() throws {
        #expect(onlyRequest(post("Transfer-Encoding: chunked\r\n", body: "0\r\n\r\n")) != nil)
        #expect(onlyRequest(post("Transfer-Encoding: CHUNKED\r\n", body: "0\r\n\r\n")) != nil)
        #expect(onlyRequest(post("Transfer-Encoding: , chunked,\r\n", body: "0\r\n\r\n")) != nil)
        #expect(refusalError(post("Transfer-Encoding: gzip, chunked\r\n", body: "0\r\n\r\n"))
            == HTTPParseError(status: 501, message: "unsupported transfer coding (only chunked is)"))
        #expect(refusalError(post("Transfer-Encoding: chunked, gzip\r\n")) == .badRequest("chunked is not the last transfer coding"))
        #expect(refusalError(post("Transfer-Encoding: identity\r\n")) == .badRequest("chunked is not the last transfer coding"))
        #expect(refusalError(post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")) == .badRequest("chunked applied more than once"))
        #expect(refusalError(post("Transfer-Encoding: ,\r\n")) == .badRequest("empty Transfer-Encoding"))
    }

    @Test func transferEncodingRefusedWithContentLengthOrHTTP10() {
        let together = HTTPParseError.badRequest("Content-Length and Transfer-Encoding together")
        #expect(refusalError(post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")) == together)
        #expect(refusalError(post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")) == together)
        #expect(refusalError("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            == .badRequest("Transfer-Encoding in an HTTP/1.0 request"))
    }

    @Test func expectContinue() throws {
        let request = try #require(onlyRequest(post("Expect: 100-Continue\r\nContent-Length: 1\r\n", body: "x")))
        #expect(request.expectsContinue)
        #expect(try #require(onlyRequest(post("Content-Length: 1\r\n", body: "x"))).expectsContinue == false)
        // RFC 9110 §10.1.1: a server ignores 100-continue in an HTTP/1.0 request.
        #expect(try #require(onlyRequest("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n")).expectsContinue == false)
        let expectationFailed = HTTPParseError(status: 417, message: "unsupported expectation (only 100-continue is)")
        #expect(refusalError(post("Expect: 102-processing\r\n")) == expectationFailed)
        #expect(refusalError(post("Expect: 100-continue\r\nExpect: x\r\n")) == expectationFailed)
        #expect(refusalError(post("Expect:\r\n")) == expectationFailed)
    }

    @Test func expectContinueHeadComesBeforeTheBody() throws {
        var parser = RequestParser()
        parser.append(Array(post("Expect: 100-continue\r\nContent-Length: 4\r\n").utf8))
        guard case .head(let head) = try parser.next() else { Issue.record("no head"); return }
        #expect(head.expectsContinue)
        #expect(head.body.isEmpty)
        #expect(try parser.next() == nil)
        parser.append(Array("body".utf8))
        guard case .request(let request) = try parser.next() else { Issue.record("no request"); return }
        #expect(request.body == Array("body".utf8))
    }

    @Test(arguments: [
        (HTTPVersion.http1_1, "", true),
        (.http1_1, "Connection: close\r\n", false),
        (.http1_1, "Connection: Keep-Alive, CLOSE\r\n", false),
        (.http1_1, "Connection: upgrade\r\nConnection: close\r\n", false),
        (.http1_1, "Connection: closed\r\n", true),
        (.http1_0, "", false),
        (.http1_0, "Connection: keep-alive\r\n", true),
        (.http1_0, "Connection: TE, Keep-Alive\r\n", true),
        (.http1_0, "Connection: keep-alive, close\r\n", false),
    ])
    func keepAlive(version: HTTPVersion, fields: String, keepAlive: Bool) throws {
        let versionText = version == .http1_1 ? "HTTP/1.1" : "HTTP/1.0"
        let request = try #require(onlyRequest("GET / \(versionText)\r\nHost: a\r\n\(fields)\r\n"))
        #expect(request.keepAlive == keepAlive)
    }
}
