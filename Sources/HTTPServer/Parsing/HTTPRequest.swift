/// One parsed request. The parser fills every field; `keepAlive` and
/// `expectsContinue` are what the head says, decided once when it is complete.
public struct HTTPRequest: Sendable, Equatable {
    /// The method token exactly as sent ("GET"); methods are case-sensitive.
    public var method: String
    /// The raw request-target.
    public var target: String
    /// The path without the query: for origin-form the target's path, for
    /// absolute-form its path part ("/" if empty), "*" for asterisk-form and
    /// "" for authority-form (CONNECT), which has no path.
    public var path: String
    /// What follows the first "?", raw; nil if there is no "?".
    public var query: String?
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// HTTP/1.1: true unless Connection has "close"; HTTP/1.0: only with
    /// "keep-alive" (and no "close").
    public var keepAlive: Bool
    /// HTTP/1.1 with "Expect: 100-continue" (RFC 9110 §10.1.1 says to ignore it in HTTP/1.0).
    public var expectsContinue: Bool

    public init(
        method: String = "GET", target: String = "/", path: String = "/", query: String? = nil,
        version: HTTPVersion = .http1_1, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [],
        keepAlive: Bool = true, expectsContinue: Bool = false
    ) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
    }
}
