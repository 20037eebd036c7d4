import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One client connection. It parses requests as bytes arrive and answers
/// them one at a time: pipelined requests wait their turn, so responses go
/// out in request order. Every method runs on the server's I/O queue.
///
/// Invariants: at most one exchange is current; output is written in the
/// order it was queued; once `closed`, no callback touches the socket.
final class Connection {
    /// What waits to be answered, in order.
    private enum Pending {
        case request(HTTPRequest)
        case failure(status: Int, message: String)
    }

    let id: Int
    private let fd: Int32
    unowned let server: HTTPServer
    private var configuration: HTTPServerConfiguration { server.configuration }
    private var parser: RequestParser
    private let readSource: DispatchSourceRead
    private let writeSource: DispatchSourceWrite
    private var writeSourceActive = false
    private var output = OutputBuffer()

    private var pending: [Pending] = []
    private var current: Exchange?
    /// A request's head asked for "100 Continue", owed once it is next in line.
    private var continueOwed = false
    /// No more requests are read; close once the queued output is written.
    private var closing = false
    private(set) var closed = false

    // Deadlines: times on the server's clock, nil when not running.
    private var requestStarted: Double?
    private var bodyStarted: Double?
    private var stalledSince: Double?
    private var idleSince: Double

    init(id: Int, fd: Int32, server: HTTPServer) {
        self.id = id
        self.fd = fd
        self.server = server
        parser = RequestParser(limits: server.configuration.limits)
        readSource = DispatchSource.makeReadSource(fileDescriptor: fd, queue: server.queue)
        writeSource = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: server.queue)
        idleSince = server.now()
    }

    func start() {
        readSource.setEventHandler { [weak self] in self?.readAvailable() }
        writeSource.setEventHandler { [weak self] in self?.flush() }
        // The descriptor is closed only when both sources are done with it.
        let fd = self.fd, group = DispatchGroup()
        group.enter(); group.enter()
        readSource.setCancelHandler { group.leave() }
        writeSource.setCancelHandler { group.leave() }
        group.notify(queue: server.queue) { [server] in
            close(fd)
            server.descriptorClosed()
        }
        readSource.resume()
    }

    var isIdle: Bool { current == nil && pending.isEmpty && parser.isIdle && output.isEmpty }

    // MARK: reading

    private func readAvailable() {
        guard !closed else { return }
        var sawEnd = false
        server.withReadBuffer { buffer in
            while !closing {
                switch Socket.read(fd, into: buffer) {
                case .bytes(let n):
                    parser.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                    if requestStarted == nil && !parser.isIdle { requestStarted = server.now() }
                    if n < buffer.count { return }
                case .wouldBlock:
                    return
                case .closed:
                    sawEnd = true
                    return
                }
            }
        }
        parseAvailable()
        if sawEnd { peerClosed() } else { pauseReadingIfFull() }
    }

    /// Turns buffered bytes into pending requests, as many as the pipeline allows.
    private func parseAvailable() {
        while !closing && pending.count < configuration.maxPipelinedRequests {
            let event: ParserEvent?
            do {
                event = try parser.next()
            } catch {
                refuse(status: error.status, message: error.message)
                return
            }
            guard let event else { break }
            switch event {
            case .head(let request):
                bodyStarted = server.now()
                if request.expectsContinue { continueOwed = true }
            case .request(let request):
                requestStarted = parser.isIdle ? nil : server.now()
                bodyStarted = nil
                continueOwed = false
                pending.append(.request(request))
            }
        }
        startNext()
        sendContinueIfDue()
    }

    /// The next request in line is answered with an error, and nothing after it is read.
    private func refuse(status: Int, message: String) {
        pending.append(.failure(status: status, message: message))
        stopReading()
        startNext()
    }

    private func stopReading() {
        closing = true
        requestStarted = nil
        bodyStarted = nil
        continueOwed = false
        resumeReading()
        readSource.cancel()
    }

    /// Reading pauses while the pipeline is full and more bytes than one
    /// whole request are buffered: the read source is level-triggered, and a
    /// client must not fill memory by pipelining.
    private var readingPaused = false
    private var pipelineFull: Bool {
        pending.count >= configuration.maxPipelinedRequests
            && parser.bufferedByteCount > configuration.limits.maxHeaderBytes + configuration.limits.maxBodyBytes
    }

    private func pauseReadingIfFull() {
        if pipelineFull && !readingPaused { readingPaused = true; readSource.suspend() }
    }

    private func resumeReading() {
        if readingPaused { readingPaused = false; readSource.resume() }
    }

    private func peerClosed() {
        // A stream has nobody left to read it: end it now. A fixed response
        // is still written (the client may have closed only its sending side).
        stopReading()
        if current == nil || current?.isStream == true { shutDown() } else { flush() }
    }

    // MARK: answering

    private func startNext() {
        guard current == nil, !closed, !pending.isEmpty else {
            if current == nil && pending.isEmpty && closing { flush() }
            return
        }
        switch pending.removeFirst() {
        case let .failure(status, message):
            // Queued by `refuse`, which already stopped reading; write flushes and closes.
            write(HTTPResponse.error(status, message), to: nil, closeAfter: true)
        case .request(let request):
            let exchange = Exchange(request: request, connection: self)
            current = exchange
            if server.isDraining { exchange.mustClose = true }
            server.dispatch(exchange)
        }
    }

    private func sendContinueIfDue() {
        guard continueOwed, current == nil, pending.isEmpty, !closing else { return }
        continueOwed = false
        output.append(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        flush()
    }

    /// Queues a whole fixed response for `exchange` (nil: a refusal) and ends it.
    func write(_ response: HTTPResponse, to exchange: Exchange?, closeAfter: Bool = false) {
        guard !closed else { return }
        var response = response
        let request = exchange?.request
        let close = closeAfter || closing || exchange?.mustClose == true || request?.keepAlive == false
        prepareHead(&response.headers, for: request, close: close)
        if response.status >= 200 && response.status != 204 && response.status != 304 {
            response.headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        }
        output.append(HTTPStatus.head(status: response.status, headers: response.headers))
        if request?.method != "HEAD" { output.append(response.body) }
        if let exchange {
            exchange.status = response.status
            finish(exchange, close: close)
        } else {
            server.report(ExchangeRecord(method: "-", route: "-", status: response.status, completed: true, seconds: 0))
        }
        flush()
    }

    /// Queues the head of a streamed response: chunked for HTTP/1.1; for
    /// HTTP/1.0 the body runs to the close of the connection.
    func writeStreamHead(status: Int, headers: HTTPHeaders, for exchange: Exchange) {
        guard !closed, current === exchange else { return }
        var headers = headers
        let chunked = exchange.request.version == .http1_1
        if !chunked { exchange.mustClose = true }
        prepareHead(&headers, for: exchange.request, close: exchange.mustClose || !exchange.request.keepAlive)
        if chunked { headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked") }
        exchange.chunked = chunked
        exchange.status = status
        exchange.lastWrite = server.now()
        output.append(HTTPStatus.head(status: status, headers: headers))
        if exchange.request.method == "HEAD" {
            if chunked { output.append(Array("0\r\n\r\n".utf8)) }
            finish(exchange, close: exchange.mustClose || !exchange.request.keepAlive)
        }
        flush()
    }

    /// Queues body bytes of the current stream; a client that has let
    /// `maxBufferedOutputBytes` pile up is disconnected.
    func writeStreamBody(_ bytes: [UInt8], for exchange: Exchange) {
        guard !closed, current === exchange, !bytes.isEmpty else { return }
        if exchange.chunked {
            output.append(Array((String(bytes.count, radix: 16) + "\r\n").utf8))
            output.append(bytes)
            output.append([13, 10])
        } else {
            output.append(bytes)
        }
        exchange.lastWrite = server.now()
        if output.count > configuration.maxBufferedOutputBytes {
            shutDown()
            return
        }
        flush()
    }

    func finishStream(_ exchange: Exchange) {
        guard !closed, current === exchange else { return }
        if exchange.chunked { output.append(Array("0\r\n\r\n".utf8)) }
        finish(exchange, close: exchange.mustClose || !exchange.request.keepAlive)
        flush()
    }

    private func finish(_ exchange: Exchange, close: Bool) {
        exchange.report(completed: true)
        exchange.finished = true
        exchange.openFlag.withLock { $0 = false }
        current = nil
        idleSince = server.now()
        if close {
            stopReading()
            pending.removeAll()
        }
        startNext()
        if current == nil && !closing {
            parseAvailable()
            if !pipelineFull { resumeReading() }
        }
    }

    private func prepareHead(_ headers: inout HTTPHeaders, for request: HTTPRequest?, close: Bool) {
        headers.replaceOrAdd(name: "Date", value: server.dateHeader())
        if !headers.contains("Server") { headers.add(name: "Server", value: "kvserve") }
        for (name, value) in configuration.responseHeaders where !headers.contains(name) { headers.add(name: name, value: value) }
        if close {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if request?.version == .http1_0 {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
    }

    // MARK: writing

    private func flush() {
        guard !closed else { return }
        while !output.isEmpty {
            let result = output.withUnsentBytes { Socket.write(fd, $0) }
            switch result {
            case .wrote(let n):
                output.consume(n)
                stalledSince = output.isEmpty ? nil : server.now()
            case .wouldBlock:
                if stalledSince == nil { stalledSince = server.now() }
                if !writeSourceActive { writeSourceActive = true; writeSource.resume() }
                return
            case .closed:
                shutDown()
                return
            }
        }
        stalledSince = nil
        if writeSourceActive { writeSourceActive = false; writeSource.suspend() }
        if closing && current == nil && pending.isEmpty { shutDown() }
    }

    // MARK: time

    /// Enforces the timeouts and sends heartbeats; called by the server's sweep.
    func tick(now: Double) {
        guard !closed else { return }
        if let stalledSince, now - stalledSince > configuration.writeTimeout {
            shutDown()
        } else if let started = requestStarted, bodyStarted == nil, now - started > configuration.headerTimeout {
            refuse(status: 408, message: "the request head did not arrive within \(Int(configuration.headerTimeout)) s")
        } else if let started = bodyStarted, now - started > configuration.bodyTimeout {
            refuse(status: 408, message: "the request body did not arrive within \(Int(configuration.bodyTimeout)) s")
        } else if isIdle, !closing, now - idleSince > configuration.idleTimeout {
            shutDown()
        } else if let current, current.isEventStream, !current.finished, now - current.lastWrite > configuration.heartbeatInterval {
            writeStreamBody(Array(ServerSentEvent.heartbeat.utf8), for: current)
        }
    }

    /// Ends the connection now: the current exchange learns its client is
    /// gone, the sources stop, and the descriptor is closed after them.
    func shutDown() {
        guard !closed else { return }
        closed = true
        if let current, !current.finished { current.clientWentAway() }
        current = nil
        pending.removeAll()
        output = OutputBuffer()
        resumeReading()
        readSource.cancel()
        // A suspended source must be resumed to be cancelled.
        if !writeSourceActive { writeSource.resume() }
        writeSource.cancel()
        server.connectionClosed(self)
    }

    /// Graceful shutdown: no new requests; close once the current one is answered.
    func drain() {
        if let current { current.mustClose = true } else { pending.removeAll() }
        stopReading()
        // With nothing in flight, flush closes once the output is written.
        flush()
    }
}

/// Bytes queued for the socket, consumed from the front.
struct OutputBuffer {
    private var bytes: [UInt8] = []
    private var start = 0

    var isEmpty: Bool { start == bytes.count }
    var count: Int { bytes.count - start }

    mutating func append(_ more: [UInt8]) {
        if start > 0 && start == bytes.count { bytes.removeAll(keepingCapacity: true); start = 0 }
        bytes.append(contentsOf: more)
    }

    mutating func consume(_ n: Int) {
        start += n
        if start == bytes.count {
            bytes.removeAll(keepingCapacity: bytes.capacity <= 1 << 16)
            start = 0
        } else if start > 1 << 16 && start > bytes.count / 2 {
            bytes.removeFirst(start)
            start = 0
        }
    }

    func withUnsentBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start...])) }
    }
}
