import Foundation

/// One server-sent event, encoded as the WHATWG event-stream format says:
/// an optional `event:` line, one `data:` line per line of data, and a blank
/// line to dispatch it.
public struct ServerSentEvent: Sendable, Equatable {
    public var event: String?
    public var data: String

    public init(event: String? = nil, data: String) {
        self.event = event
        self.data = data
    }

    public var encoded: String {
        var out = ""
        if let event { out += "event: \(event)\n" }
        // CRLF, CR and LF all end a line in the format, so each one splits data.
        let lines = data.replacingOccurrences(of: "\r\n", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false)
            .flatMap { $0.split(separator: "\r", omittingEmptySubsequences: false) }
        for line in lines { out += "data: \(line)\n" }
        return out + "\n"
    }

    /// A comment line: ignored by clients, keeps idle connections alive.
    public static let heartbeat = ": keep-alive\n\n"
}
