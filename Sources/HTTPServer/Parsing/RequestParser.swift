/// An incremental HTTP/1.1 request parser (RFC 9112). Append bytes as they
/// arrive and call `next()` until it returns nil; pipelined requests come out
/// in order. The outcome never depends on how the bytes were split between
/// appends: every check looks only at bytes up to the point it decides on.
public struct RequestParser: Sendable {
    private enum State: Sendable {
        case requestLine
        case headerSection
        /// Body bytes still to come: all of a Content-Length body, or the rest of one chunk.
        case bodyData(remaining: Int, chunked: Bool)
        case chunkSizeLine
        case chunkDataEnd
        case trailerSection
        /// The whole request is parsed and `.request` not yet returned.
        case complete
        /// Refused with `failure`; the error is kept apart so State stays trivial to copy.
        case failed
    }

    /// RFC 9112 §2.2 asks a server to skip "at least one" empty line before a request line.
    static let maxLeadingEmptyLines = 4

    private let limits: HTTPLimits
    private var buffer = InputBuffer()
    private var state = State.requestLine
    private var failure = HTTPParseError.badRequest("")
    /// Bytes of the current line already searched for its LF, so no byte is searched twice.
    private var lineScanned = 0
    private var emptyLinesSkipped = 0
    /// Bytes of the request line, header section and trailers so far (the 431 budget).
    private var headBytes = 0
    /// Header plus trailer fields so far.
    private var fieldCount = 0
    private var headFields = HeadFields()
    private var request = HTTPRequest()

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        switch state {
        case .failed:
            return  // The connection is closing: keep nothing more.
        case .bodyData(let remaining, let chunked) where buffer.count == 0:
            // Body bytes go straight into the body: one copy, not two.
            let taken = bytes.prefix(remaining)
            request.body.append(contentsOf: taken)
            state = .bodyData(remaining: remaining - taken.count, chunked: chunked)
            buffer.append(bytes.dropFirst(taken.count))
        default:
            buffer.append(bytes)
        }
    }

    /// The next event from the bytes appended so far; nil when more bytes are needed.
    /// Every request yields .head then .request (a body-less request yields both at once, on consecutive calls).
    /// After an error is thrown, every later call throws the same error (the connection answers and closes).
    public mutating func next() throws(HTTPParseError) -> ParserEvent? {
        if case .failed = state { throw failure }
        do {
            return try advance()
        } catch {
            state = .failed
            failure = error
            throw error
        }
    }

    /// Bytes appended but not yet consumed (pipelined requests wait here).
    public var bufferedByteCount: Int { buffer.count }

    /// True between requests with nothing buffered (a clean place to close an idle connection).
    public var isIdle: Bool {
        if case .requestLine = state { return buffer.count == 0 }
        return false
    }

    /// Runs the state machine until it has an event or needs bytes.
    private mutating func advance() throws(HTTPParseError) -> ParserEvent? {
        while true {
            switch state {
            case .requestLine:
                guard try readRequestLine() else { return nil }
            case .headerSection:
                guard let line = try nextLine(maxLength: limits.maxHeaderBytes - headBytes, limit: .headerSection) else { return nil }
                if line.content.isEmpty {
                    buffer.consume(line.length)
                    headBytes += line.length
                    return .head(try completeHead())
                }
                try readField(line, isTrailer: false)
            case .bodyData(let remaining, let chunked):
                let taken = min(remaining, buffer.count)
                buffer.move(taken, to: &request.body)
                guard taken == remaining else {
                    state = .bodyData(remaining: remaining - taken, chunked: chunked)
                    return nil
                }
                state = chunked ? .chunkDataEnd : .complete
            case .chunkSizeLine:
                guard let line = try nextLine(maxLength: limits.maxChunkLineBytes, limit: .chunkSizeLine) else { return nil }
                let size = try buffer.withBytes(line.content) { (bytes) throws(HTTPParseError) in try ChunkSizeLine.size(of: bytes) }
                buffer.consume(line.length)
                guard size > 0 else {
                    state = .trailerSection
                    continue
                }
                guard size <= limits.maxBodyBytes - request.body.count else {
                    throw HTTPParseError(status: 413, message: "chunked body exceeds the limit of \(limits.maxBodyBytes) bytes")
                }
                // No reserveCapacity here: exact growth per chunk would make many small chunks quadratic.
                state = .bodyData(remaining: size, chunked: true)
            case .chunkDataEnd:
                // Decided byte by byte, so a wrong first byte is refused before the second arrives.
                guard buffer.count > 0 else { return nil }
                guard buffer[0] == ASCII.cr else { throw .badRequest("chunk data not followed by CRLF") }
                guard buffer.count > 1 else { return nil }
                guard buffer[1] == ASCII.lf else { throw .badRequest("chunk data not followed by CRLF") }
                buffer.consume(2)
                state = .chunkSizeLine
            case .trailerSection:
                guard let line = try nextLine(maxLength: limits.maxHeaderBytes - headBytes, limit: .headerSection) else { return nil }
                if line.content.isEmpty {
                    buffer.consume(line.length)
                    state = .complete
                } else {
                    try readField(line, isTrailer: true)
                }
            case .complete:
                return .request(finishRequest())
            case .failed:
                throw failure
            }
        }
    }

    /// Reads the request line, or skips one empty line before it; false when more bytes are needed.
    private mutating func readRequestLine() throws(HTTPParseError) -> Bool {
        // The line's own limit applies unless the header budget is the smaller.
        let fitsHeaderBudget = limits.maxRequestLineBytes + 2 <= limits.maxHeaderBytes
        let maxLength = fitsHeaderBudget ? limits.maxRequestLineBytes + 2 : limits.maxHeaderBytes
        guard let line = try nextLine(maxLength: maxLength, limit: fitsHeaderBudget ? .requestLine : .headerSection) else {
            return false
        }
        if line.content.isEmpty {
            emptyLinesSkipped += 1
            guard emptyLinesSkipped <= Self.maxLeadingEmptyLines else {
                throw .badRequest("more than \(Self.maxLeadingEmptyLines) empty lines before the request line")
            }
            buffer.consume(line.length)
            return true
        }
        let requestLine = try buffer.withBytes(line.content) { (bytes) throws(HTTPParseError) in try RequestLine(parsing: bytes) }
        buffer.consume(line.length)
        headBytes = line.length
        request = HTTPRequest(
            method: requestLine.method, target: requestLine.target, path: requestLine.path,
            query: requestLine.query, version: requestLine.version)
        request.headers.reserveCapacity(8)
        state = .headerSection
        return true
    }

    /// Parses one field line; header fields are kept and noted, trailer fields only counted.
    private mutating func readField(_ line: Line, isTrailer: Bool) throws(HTTPParseError) {
        fieldCount += 1
        guard fieldCount <= limits.maxHeaderCount else {
            throw HTTPParseError(status: 431, message: "more than \(limits.maxHeaderCount) header fields")
        }
        try buffer.withBytes(line.content) { (bytes) throws(HTTPParseError) in
            let field = try FieldLine(parsing: bytes, in: isTrailer ? "trailer section" : "header section")
            guard !isTrailer else { return }
            let name = UnsafeBufferPointer(rebasing: bytes[field.name])
            let value = UnsafeBufferPointer(rebasing: bytes[field.value])
            headFields.note(name: name, value: value)
            request.headers.add(name: ASCII.string(name), value: ASCII.string(value))
        }
        buffer.consume(line.length)
        headBytes += line.length
    }

    /// Judges the complete head and moves to its body; returns the head.
    private mutating func completeHead() throws(HTTPParseError) -> HTTPRequest {
        let decision = try headFields.judge(version: request.version, limits: limits)
        request.keepAlive = decision.keepAlive
        request.expectsContinue = decision.expectsContinue
        // Copied before the body gets storage, so a head the caller keeps
        // never shares (and forces a copy of) the body being filled.
        let head = request
        switch decision.framing {
        case .none, .length(0): state = .complete
        case .length(let length):
            request.body.reserveCapacity(length)
            state = .bodyData(remaining: length, chunked: false)
        case .chunked: state = .chunkSizeLine
        }
        return head
    }

    /// Hands out the parsed request and gets ready for the next one.
    private mutating func finishRequest() -> HTTPRequest {
        var finished = HTTPRequest()
        swap(&finished, &request)  // a move: no copy of the request to release later
        headFields = HeadFields()
        headBytes = 0
        fieldCount = 0
        emptyLinesSkipped = 0
        state = .requestLine
        return finished
    }

    /// The limit a line is held to, which decides the error when it is exceeded.
    private enum LineLimit {
        case requestLine, headerSection, chunkSizeLine
    }

    private func tooLong(_ limit: LineLimit) -> HTTPParseError {
        switch limit {
        case .requestLine:
            HTTPParseError(status: 414, message: "request line longer than \(limits.maxRequestLineBytes) bytes")
        case .headerSection:
            HTTPParseError(status: 431, message: "request head longer than \(limits.maxHeaderBytes) bytes")
        case .chunkSizeLine:
            .badRequest("chunk size line longer than \(limits.maxChunkLineBytes) bytes")
        }
    }

    /// A line at the front of the buffer: its content (without CRLF) and its length with CRLF.
    private struct Line {
        var content: Range<Int>
        var length: Int
    }

    /// The next CRLF-terminated line, which may be at most `maxLength` bytes
    /// with its CRLF; nil while it is incomplete. Whether a line is too long
    /// depends only on its first `maxLength` bytes, however they arrived.
    private mutating func nextLine(
        maxLength: Int, limit: LineLimit
    ) throws(HTTPParseError) -> Line? {
        let window = min(buffer.count, maxLength)
        guard let lf = buffer.firstLineFeed(from: lineScanned, to: window) else {
            if buffer.count >= maxLength { throw tooLong(limit) }
            lineScanned = max(window, 0)
            return nil
        }
        lineScanned = 0
        guard lf > 0, buffer[lf - 1] == ASCII.cr else { throw .badRequest("bare LF in \(sectionName)") }
        return Line(content: 0..<(lf - 1), length: lf + 1)
    }

    /// Where the parser is, for messages about line endings.
    private var sectionName: String {
        switch state {
        case .requestLine: "request line"
        case .chunkSizeLine: "chunk size line"
        case .trailerSection: "trailer section"
        default: "header section"
        }
    }
}
