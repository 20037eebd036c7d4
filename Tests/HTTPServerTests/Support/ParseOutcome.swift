import Testing
@testable import HTTPServer

/// Everything a parser reports for some input appended in parts: the events
/// until it needs more bytes, or the error that stopped it.
struct ParseOutcome: Equatable, CustomStringConvertible {
    var events: [ParserEvent] = []
    var error: HTTPParseError?
    var bufferedByteCount = 0

    init<Part: Collection<UInt8>>(parts: [Part], limits: HTTPLimits = HTTPLimits()) {
        var parser = RequestParser(limits: limits)
        for part in parts {
            parser.append(part)
            do {
                while let event = try parser.next() { events.append(event) }
            } catch {
                self.error = error
                break
            }
        }
        bufferedByteCount = parser.bufferedByteCount
    }

    init(_ input: [UInt8], limits: HTTPLimits = HTTPLimits()) {
        self.init(parts: [input], limits: limits)
    }

    init(_ input: String, limits: HTTPLimits = HTTPLimits()) {
        self.init(Array(input.utf8), limits: limits)
    }

    /// The complete requests, in order.
    var requests: [HTTPRequest] {
        events.compactMap { if case .request(let request) = $0 { request } else { nil } }
    }

    var status: Int? { error?.status }

    var description: String {
        let names = events.map { if case .head(let r) = $0 { "head \(r.method) \(r.target)" } else { "request" } }
        return "events \(names), error \(error.map(String.init(describing:)) ?? "none")"
    }
}

/// The one request `input` holds; records an issue if it does not parse to exactly one.
func onlyRequest(_ input: String, limits: HTTPLimits = HTTPLimits()) -> HTTPRequest? {
    let outcome = ParseOutcome(input, limits: limits)
    guard outcome.error == nil, outcome.requests.count == 1 else {
        Issue.record("expected one request from \(input.debugDescription), got \(outcome)")
        return nil
    }
    return outcome.requests[0]
}

/// The status `input` is refused with, nil if it is not refused.
func refusal(_ input: String, limits: HTTPLimits = HTTPLimits()) -> Int? {
    ParseOutcome(input, limits: limits).status
}

/// The error `input` is refused with.
func refusalError(_ input: String, limits: HTTPLimits = HTTPLimits()) -> HTTPParseError? {
    ParseOutcome(input, limits: limits).error
}
