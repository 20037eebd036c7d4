import Testing
@testable import HTTPServer

/// Fixtures/hostile-requests.txt: each malformed input is refused with its
/// status; each truncated one waits without error.
@Suite struct HostileRequestTests {
    @Test func theListIsLargeAndCoversEveryStatus() {
        #expect(Fixtures.hostileRequests.count >= 60)
        let expected = Set(Fixtures.hostileRequests.compactMap(\.expected))
        #expect(expected == ["400", "413", "414", "417", "431", "501", "505", "incomplete"])
    }

    @Test(arguments: Fixtures.hostileRequests)
    func hostileInput(_ fixture: Fixtures.Case) {
        let outcome = ParseOutcome(fixture.bytes)
        let described = outcome.description
        let got = outcome.error.map { String($0.status) } ?? "incomplete"
        #expect(got == fixture.expected, "\(described)")
        #expect(outcome.requests.isEmpty, "a request got through: \(described)")
    }
}
