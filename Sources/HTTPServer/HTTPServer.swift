import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 server on POSIX sockets and Dispatch. All socket work runs
/// on one serial I/O queue; handlers are called there and answer through
/// their `Responder` from any thread.
public final class HTTPServer: @unchecked Sendable {
    public let configuration: HTTPServerConfiguration
    public private(set) var port = 0
    let queue = DispatchQueue(label: "kvserve.http")
    private let router: Router
    private var listener: Int32 = -1
    private var acceptSource: DispatchSourceRead?
    private var sweep: DispatchSourceTimer?
    private var connections: [Int: Connection] = [:]
    private var nextConnectionID = 0
    private(set) var isDraining = false
    /// Until the accept source's cancel handler has closed the socket, a
    /// client can still connect, so shutdown's completion waits for it.
    private var listenerIsOpen = true
    private var drained: (() -> Void)?
    private var readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
    private var cachedDate: (second: Int, text: String) = (-1, "")

    /// Told of every answered request, refusals included (on the I/O queue).
    private let observer: (@Sendable (ExchangeRecord) -> Void)?
    /// Called when a shutdown's grace period ends with responses still
    /// running, so that the application can end them itself (tell their
    /// clients why) before the connections are closed.
    private let graceEnding: (@Sendable () -> Void)?

    /// How long the application has, after `graceEnding`, to end what still
    /// runs before connections are closed under it.
    static let endingAllowance = 1.0

    public init(configuration: HTTPServerConfiguration, router: Router, observer: (@Sendable (ExchangeRecord) -> Void)? = nil,
                graceEnding: (@Sendable () -> Void)? = nil) {
        self.configuration = configuration
        self.router = router
        self.observer = observer
        self.graceEnding = graceEnding
    }

    func report(_ record: ExchangeRecord) { observer?(record) }

    deinit { readBuffer.deallocate() }

    /// Binds and starts accepting; returns once the socket listens.
    public func start() throws {
        let (fd, boundPort) = try Socket.listen(host: configuration.host, port: configuration.port)
        listener = fd
        port = boundPort
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { [weak self] in self?.acceptAll() }
        source.setCancelHandler { [weak self] in
            close(fd)
            guard let self else { return }
            listenerIsOpen = false
            if isDraining && connections.isEmpty { finishShutdown() }
        }
        acceptSource = source
        source.resume()
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + 0.25, repeating: 0.25)
        timer.setEventHandler { [weak self] in self?.tick() }
        sweep = timer
        timer.resume()
    }

    /// Open connections right now (for tests and metrics).
    public var connectionCount: Int { queue.sync { connections.count } }

    /// Accepted sockets not yet closed: connections, and closed ones whose
    /// descriptor still waits for its sources to finish.
    public var openDescriptorCount: Int { queue.sync { openDescriptors } }
    private var openDescriptors = 0
    func descriptorClosed() { openDescriptors -= 1 }

    private func acceptAll() {
        while let fd = Socket.accept(listener) {
            guard connections.count < configuration.maxConnections, !isDraining else {
                refuseAtCapacity(fd)
                continue
            }
            openDescriptors += 1
            let connection = Connection(id: nextConnectionID, fd: fd, server: self)
            nextConnectionID += 1
            connections[connection.id] = connection
            connection.start()
        }
    }

    /// Beyond `max_connections`: a best-effort 503 and close, never a queue.
    private func refuseAtCapacity(_ fd: Int32) {
        var response = HTTPResponse.error(503, "the server is at its connection limit; retry shortly")
        response.headers.add(name: "Retry-After", value: "1")
        response.headers.add(name: "Connection", value: "close")
        response.headers.add(name: "Content-Length", value: String(response.body.count))
        let bytes = HTTPStatus.head(status: 503, headers: response.headers) + response.body
        _ = bytes.withUnsafeBytes { Socket.write(fd, $0) }
        close(fd)
        report(ExchangeRecord(method: "-", route: "-", status: 503, completed: true, seconds: 0))
    }

    func dispatch(_ exchange: Exchange) {
        let request = exchange.request
        switch router.match(method: request.method, path: request.path) {
        case let .handler(handler, parameters, pattern):
            exchange.route = pattern
            handler(request, Responder(exchange: exchange, parameters: parameters, queue: queue))
        case .notFound:
            exchange.connection?.write(HTTPResponse.error(404, "no route for \(request.path)"), to: exchange)
        case .methodNotAllowed(let allow):
            let headers = HTTPHeaders([(name: "Allow", value: allow.joined(separator: ", "))])
            exchange.connection?.write(
                HTTPResponse.error(405, "\(request.method) is not allowed on \(request.path) (allowed: \(allow.joined(separator: ", ")))", headers: headers),
                to: exchange)
        }
    }

    func connectionClosed(_ connection: Connection) {
        connections[connection.id] = nil
        if isDraining && connections.isEmpty { finishShutdown() }
    }

    private func tick() {
        let now = self.now()
        for connection in Array(connections.values) { connection.tick(now: now) }
    }

    // MARK: shutdown

    /// Stops accepting, lets in-flight responses finish for the grace period,
    /// then closes every connection; `completion` runs (on the I/O queue) when
    /// all are closed.
    public func shutdown(completion: @escaping @Sendable () -> Void = {}) {
        queue.async { [self] in
            guard !isDraining else { return }
            isDraining = true
            drained = completion
            if let source = acceptSource { source.cancel() } else { listenerIsOpen = false }
            acceptSource = nil
            for connection in Array(connections.values) { connection.drain() }
            if connections.isEmpty { finishShutdown(); return }
            queue.asyncAfter(deadline: .now() + configuration.shutdownGrace) { [self] in
                guard !connections.isEmpty else { return }
                let allowance = graceEnding == nil ? 0 : Self.endingAllowance
                graceEnding?()
                queue.asyncAfter(deadline: .now() + allowance) { [self] in
                    for connection in Array(connections.values) { connection.shutDown() }
                }
            }
        }
    }

    private func finishShutdown() {
        guard !listenerIsOpen else { return }
        sweep?.cancel()
        sweep = nil
        let done = drained
        drained = nil
        done?()
    }

    /// On the first of `signals` (SIGTERM and SIGINT by default) shuts down
    /// gracefully, then calls `finished` (the serve command exits there).
    ///
    /// A C handler writes the signal's number to a pipe that the I/O queue
    /// reads: Dispatch's own signal sources miss signals that another thread
    /// of the process receives first.
    /// `beginning` runs first, when the signal arrives.
    public func shutdownOnSignals(_ signals: [Int32] = [SIGTERM, SIGINT], log: @escaping @Sendable (String) -> Void = { _ in },
                                  beginning: @escaping @Sendable () -> Void = {}, finished: @escaping @Sendable () -> Void) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }
        SignalPipe.writeEnd = ends[1]
        let source = DispatchSource.makeReadSource(fileDescriptor: ends[0], queue: queue)
        source.setEventHandler { [self] in
            var number: UInt8 = 0
            guard read(ends[0], &number, 1) == 1 else { return }
            log("signal \(number): no new connections; in-flight responses get up to \(Int(configuration.shutdownGrace)) s")
            beginning()
            shutdown(completion: finished)
        }
        source.resume()
        signalSources.append(source)
        for number in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in SignalPipe.forward(number) }
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
    }
    private var signalSources: [DispatchSourceRead] = []

    // MARK: shared by connections (I/O queue)

    func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    func withReadBuffer<R>(_ body: (UnsafeMutableRawBufferPointer) -> R) -> R { body(readBuffer) }

    /// The IMF-fixdate of this second, formatted once per second.
    func dateHeader() -> String {
        var t = time(nil)
        guard Int(t) != cachedDate.second else { return cachedDate.text }
        var parts = tm()
        gmtime_r(&t, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let text = "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(1900 + Int(parts.tm_year)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        cachedDate = (Int(t), text)
        return text
    }
}

/// Where the signal handler writes (only async-signal-safe calls there).
private enum SignalPipe {
    nonisolated(unsafe) static var writeEnd: Int32 = -1
    static func forward(_ number: Int32) {
        var byte = UInt8(truncatingIfNeeded: number)
        _ = write(writeEnd, &byte, 1)
    }
}
