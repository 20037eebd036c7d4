import Testing
@testable import HTTPServer

@Suite struct HTTPHeadersTests {
    @Test func lookupIgnoresCaseAndKeepsOrder() {
        let headers = HTTPHeaders([("Content-Type", "a"), ("X-Tag", "1"), ("x-tag", "2")])
        #expect(headers["content-type"] == "a")
        #expect(headers["X-TAG"] == "1")
        #expect(headers.values("x-Tag") == ["1", "2"])
        #expect(headers["missing"] == nil)
        #expect(headers.values("missing").isEmpty)
        #expect(headers.contains("CONTENT-TYPE"))
        #expect(!headers.contains("Content"))
        #expect(headers.count == 3)
    }

    @Test func addAndReplace() {
        var headers = HTTPHeaders()
        headers.add(name: "A", value: "1")
        headers.add(name: "B", value: "2")
        headers.add(name: "a", value: "3")
        headers.replaceOrAdd(name: "A", value: "9")
        #expect(headers.map(\.name) == ["A", "B"])
        #expect(headers.map(\.value) == ["9", "2"])
        headers.replaceOrAdd(name: "C", value: "4")
        #expect(headers.map(\.name) == ["A", "B", "C"])
    }

    @Test func equalityIgnoresNameCaseButNotOrderOrValues() {
        #expect(HTTPHeaders([("A", "1"), ("B", "2")]) == HTTPHeaders([("a", "1"), ("b", "2")]))
        #expect(HTTPHeaders([("A", "1"), ("B", "2")]) != HTTPHeaders([("B", "2"), ("A", "1")]))
        #expect(HTTPHeaders([("A", "x")]) != HTTPHeaders([("A", "X")]))
        #expect(HTTPHeaders([("A", "1")]) != HTTPHeaders([("A", "1"), ("A", "1")]))
    }
}
