import Testing
@testable import HTTPServer

@Suite struct RequestLineTests {
    @Test func originFormSplitsPathAndQuery() throws {
        let request = try #require(onlyRequest("GET /v1/generate?stream=1&x=?y HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(request.method == "GET")
        #expect(request.target == "/v1/generate?stream=1&x=?y")
        #expect(request.path == "/v1/generate")
        #expect(request.query == "stream=1&x=?y")
        #expect(request.version == .http1_1)
    }

    @Test func emptyQueryIsNotNoQuery() throws {
        #expect(try #require(onlyRequest("GET /a? HTTP/1.1\r\nHost: a\r\n\r\n")).query == "")
        #expect(try #require(onlyRequest("GET /a HTTP/1.1\r\nHost: a\r\n\r\n")).query == nil)
    }

    @Test func methodIsAnyTokenAndCaseSensitive() throws {
        #expect(try #require(onlyRequest("get / HTTP/1.1\r\nHost: a\r\n\r\n")).method == "get")
        #expect(try #require(onlyRequest("M-SEARCH! / HTTP/1.1\r\nHost: a\r\n\r\n")).method == "M-SEARCH!")
    }

    @Test func absoluteFormTakesThePathPart() throws {
        let request = try #require(onlyRequest("GET HTTP://example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"))
        #expect(request.target == "HTTP://example.com:8080/p/q?x=1")
        #expect(request.path == "/p/q")
        #expect(request.query == "x=1")
        let bare = try #require(onlyRequest("GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n"))
        #expect(bare.path == "/")
        #expect(bare.query == nil)
        let queryOnly = try #require(onlyRequest("GET http://example.com?q HTTP/1.1\r\nHost: example.com\r\n\r\n"))
        #expect(queryOnly.path == "/")
        #expect(queryOnly.query == "q")
    }

    @Test func asteriskFormOnlyWithOptions() throws {
        #expect(try #require(onlyRequest("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")).path == "*")
        #expect(refusalError("GET * HTTP/1.1\r\nHost: a\r\n\r\n") == .badRequest("asterisk-form target is only for OPTIONS"))
    }

    @Test func authorityFormOnlyWithConnect() throws {
        let request = try #require(onlyRequest("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"))
        #expect(request.target == "example.com:443")
        #expect(request.path == "")
        #expect(refusal("GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(refusal("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(refusal("CONNECT http://a/ HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(refusal("CONNECT example.com: HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(refusal("CONNECT :443 HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
    }

    @Test(arguments: [
        ("GET  / HTTP/1.1", "empty request target (more than one space after the method)"),
        ("GET /  HTTP/1.1", "malformed HTTP version"),
        ("GET / HTTP/1.1 ", "malformed HTTP version"),
        (" GET / HTTP/1.1", "request line starts with whitespace"),
        ("GET\t/ HTTP/1.1", "method not followed by a single space"),
        ("G{T / HTTP/1.1", "invalid character in method"),
        ("GET /a\u{7F} HTTP/1.1", "invalid character in request target"),
        ("GET", "request line has no request target"),
        ("GET /", "request line has no HTTP version"),
        ("GET /\rb HTTP/1.1", "bare CR in request line"),
        ("GET a HTTP/1.1", "invalid request target"),
        ("GET http:// HTTP/1.1", "absolute-form target without a host"),
    ])
    func malformedRequestLines(line: String, message: String) {
        #expect(refusalError(line + "\r\nHost: a\r\n\r\n") == .badRequest(message))
    }

    @Test func versions() throws {
        #expect(try #require(onlyRequest("GET / HTTP/1.0\r\n\r\n")).version == .http1_0)
        #expect(refusalError("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == HTTPParseError(status: 505, message: "HTTP version 2.0 not supported"))
        #expect(refusal("GET / HTTP/9.9\r\nHost: a\r\n\r\n") == 505)
        for malformed in ["http/1.1", "HTTP/1.1.1", "HTTP/1", "HTTP 1.1", "HTTP/1,1", "HTTP/+.1", "HTTPS/1.1"] {
            #expect(refusal("GET / \(malformed)\r\nHost: a\r\n\r\n") == 400, "\(malformed)")
        }
    }

    @Test func leadingEmptyLinesAreSkippedUpToALimit() throws {
        let skipped = String(repeating: "\r\n", count: RequestParser.maxLeadingEmptyLines)
        #expect(onlyRequest(skipped + "GET / HTTP/1.1\r\nHost: a\r\n\r\n") != nil)
        #expect(refusalError("\r\n" + skipped + "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            == .badRequest("more than \(RequestParser.maxLeadingEmptyLines) empty lines before the request line"))
        #expect(refusalError("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") == .badRequest("bare LF in request line"))
    }

    @Test func requestLineLimitIsDetectedBeforeTheLineEnds() {
        var limits = HTTPLimits()
        limits.maxRequestLineBytes = 32
        let fits = "GET /" + String(repeating: "a", count: 18) + " HTTP/1.1"  // 32 bytes
        #expect(fits.utf8.count == 32)
        #expect(onlyRequest(fits + "\r\nHost: a\r\n\r\n", limits: limits) != nil)
        #expect(refusal("GET /" + String(repeating: "a", count: 19) + " HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits) == 414)
        // No line end yet: refused once the line cannot fit, not when it ends.
        #expect(ParseOutcome(String(repeating: "a", count: 33), limits: limits).error == nil)
        #expect(refusal(String(repeating: "a", count: 34), limits: limits) == 414)
    }
}
