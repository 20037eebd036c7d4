/// Everything the server is told by configuration (docs/configuration.md).
public struct HTTPServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (tests); `HTTPServer.port` tells which.
    public var port = 8080
    public var maxConnections = 256
    public var limits = HTTPLimits()
    /// From the first byte of a request until its head is complete (slow-loris).
    public var headerTimeout = 10.0
    /// From the end of the head until the end of the body.
    public var bodyTimeout = 30.0
    /// Between requests on a kept-alive connection.
    public var idleTimeout = 60.0
    /// While output is pending and the client takes none of it.
    public var writeTimeout = 30.0
    /// How long in-flight responses may run after shutdown begins.
    public var shutdownGrace = 10.0
    /// A comment line on an idle event stream, so proxies and clients keep it.
    public var heartbeatInterval = 15.0
    /// Output a connection may hold unsent; a client that lets more pile up
    /// is disconnected, so a slow reader cannot grow memory without bound.
    public var maxBufferedOutputBytes = 1 << 20
    /// Headers every response carries (e.g. which replica served it).
    public var responseHeaders: [(name: String, value: String)] = []
    /// Parsed requests waiting behind the one being answered (pipelining).
    public var maxPipelinedRequests = 16

    public init() {}
}
