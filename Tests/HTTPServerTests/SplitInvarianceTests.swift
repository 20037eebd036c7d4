import Testing
@testable import HTTPServer

/// However the bytes are split between appends, the parser reports the same:
/// every valid fixture split at every position and fed one byte at a time.
@Suite struct SplitInvarianceTests {
    @Test(arguments: Fixtures.validRequests)
    func validInputSplitAnywhere(_ fixture: Fixtures.Case) {
        let whole = ParseOutcome(fixture.bytes)
        #expect(whole.error == nil, "\(whole)")
        #expect(!whole.requests.isEmpty)
        #expect(whole.events.count == 2 * whole.requests.count)
        #expect(whole.bufferedByteCount == 0)
        for split in 0...fixture.bytes.count {
            let halves = ParseOutcome(parts: [fixture.bytes[..<split], fixture.bytes[split...]])
            #expect(halves == whole, "split at \(split)")
        }
        let byteByByte = ParseOutcome(parts: fixture.bytes.map { [$0] })
        #expect(byteByByte == whole)
    }

    @Test(arguments: Fixtures.hostileRequests)
    func invalidInputSplitAnywhere(_ fixture: Fixtures.Case) {
        let whole = ParseOutcome(fixture.bytes)
        // Long cases are split at ~200 places, not all of their bytes.
        let stride = max(1, fixture.bytes.count / 200)
        for split in Swift.stride(from: 0, through: fixture.bytes.count, by: stride) {
            let halves = ParseOutcome(parts: [fixture.bytes[..<split], fixture.bytes[split...]])
            #expect(halves.events == whole.events && halves.error == whole.error, "split at \(split): \(halves)")
        }
        if fixture.bytes.count <= 20_000 {
            let byteByByte = ParseOutcome(parts: fixture.bytes.map { [$0] })
            #expect(byteByByte.events == whole.events && byteByByte.error == whole.error)
        }
    }

    @Test func expectedEventsOfTheSplitFixtures() throws {
        let byLine = Dictionary(uniqueKeysWithValues: Fixtures.validRequests.map { ($0.escaped, ParseOutcome($0.bytes).requests) })
        let chunked = try #require(byLine.first { $0.key.hasPrefix("POST /upload") }?.value.first)
        #expect(String(decoding: chunked.body, as: UTF8.self) == "hello world")
        #expect(chunked.headers.count == 2)
        let pipelined = try #require(byLine.first { $0.key.hasPrefix("GET /a") }?.value)
        #expect(pipelined.map(\.path) == ["/a", "/b", "/c", "/d"])
        #expect(pipelined.map { String(decoding: $0.body, as: UTF8.self) } == ["", "xyz", "z", ""])
        #expect(pipelined.map(\.keepAlive) == [true, true, true, false])
        let expecting = try #require(byLine.first { $0.key.hasPrefix("POST /e") }?.value.first)
        #expect(expecting.expectsContinue)
        let old = try #require(byLine.first { $0.key.hasPrefix("GET /old") }?.value.first)
        #expect(old.version == .http1_0 && !old.keepAlive)
    }
}
