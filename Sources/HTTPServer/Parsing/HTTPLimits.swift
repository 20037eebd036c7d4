/// How much of a request the parser accepts before refusing it, so a peer cannot
/// make the server buffer without bound.
public struct HTTPLimits: Sendable {
    /// A longer request line is refused with 414.
    public var maxRequestLineBytes = 8192
    /// The request line, the header section and any chunked trailers together,
    /// line endings included; more is refused with 431.
    public var maxHeaderBytes = 16384
    /// Header fields plus trailer fields; more is refused with 431.
    public var maxHeaderCount = 100
    /// A Content-Length or decoded chunked body beyond this is refused with 413.
    public var maxBodyBytes = 1 << 20
    /// A chunk-size line with its extensions, line ending included; longer is refused with 400.
    public var maxChunkLineBytes = 4096

    public init() {}
}
