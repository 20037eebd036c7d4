import Dispatch
import Foundation

/// One request and the state of its answer, shared by the connection (on
/// the I/O queue) and the handler's `Responder` (on any thread, hopping to
/// the queue).
final class Exchange: @unchecked Sendable {
    let request: HTTPRequest
    weak var connection: Connection?
    // I/O-queue state.
    var mustClose = false
    var chunked = false
    var finished = false
    var isStream = false
    var isEventStream = false
    var lastWrite: Double = 0
    /// The route pattern that matched; "unmatched" for 404s and 405s.
    var route = "unmatched"
    /// The status sent (0 until the head is written).
    var status = 0
    let started = DispatchTime.now().uptimeNanoseconds
    private var reported = false
    private var closeHandlers: [@Sendable () -> Void] = []
    private var wentAway = false

    init(request: HTTPRequest, connection: Connection) {
        self.request = request
        self.connection = connection
    }

    /// Tells the server's observer how the exchange ended, once.
    func report(completed: Bool) {
        guard !reported, let server = connection?.server else { return }
        reported = true
        server.report(ExchangeRecord(method: request.method, route: route, status: status, completed: completed,
                                     seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9))
    }

    /// The client disconnected before the answer was complete.
    func clientWentAway() {
        guard !wentAway else { return }
        report(completed: false)
        wentAway = true
        finished = true
        openFlag.withLock { $0 = false }
        let handlers = closeHandlers
        closeHandlers = []
        for handler in handlers { handler() }
    }

    func addCloseHandler(_ handler: @escaping @Sendable () -> Void) {
        if wentAway { handler() } else { closeHandlers.append(handler) }
    }

    /// Readable from any thread: false once the client is gone or the answer ended.
    let openFlag = Mutex(true)
}

/// A tiny lock around a value (Foundation's NSLock; Synchronization's Mutex
/// needs a newer deployment target on macOS).
final class Mutex<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock(); defer { lock.unlock() }
        return body(&value)
    }
}

/// How a handler answers its request, from any thread.
public final class Responder: @unchecked Sendable {
    public let request: HTTPRequest
    /// Values of the route's `{name}` segments.
    public let parameters: [String: String]
    private let exchange: Exchange
    private let queue: DispatchQueue
    private let answered = Mutex(false)

    init(exchange: Exchange, parameters: [String: String], queue: DispatchQueue) {
        request = exchange.request
        self.parameters = parameters
        self.exchange = exchange
        self.queue = queue
    }

    private func claim() -> Bool {
        answered.withLock { done in
            defer { done = true }
            return !done
        }
    }

    /// Sends a whole response. Only the first answer counts.
    public func send(_ response: HTTPResponse) {
        guard claim() else { return }
        let exchange = exchange
        queue.async { exchange.connection?.write(response, to: exchange) }
    }

    /// Starts a streamed response (chunked).
    public func stream(status: Int = 200, headers: HTTPHeaders = HTTPHeaders()) -> ResponseStream {
        start(status: status, headers: headers, eventStream: false)
    }

    /// Starts a server-sent event stream: `text/event-stream`, no caching,
    /// and a comment heartbeat while it is idle.
    public func eventStream(headers: HTTPHeaders = HTTPHeaders()) -> ResponseStream {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Type", value: "text/event-stream")
        headers.replaceOrAdd(name: "Cache-Control", value: "no-cache")
        headers.replaceOrAdd(name: "X-Accel-Buffering", value: "no")
        return start(status: 200, headers: headers, eventStream: true)
    }

    private func start(status: Int, headers: HTTPHeaders, eventStream: Bool) -> ResponseStream {
        let stream = ResponseStream(exchange: exchange, queue: queue)
        guard claim() else { return stream }
        let exchange = exchange
        queue.async {
            exchange.isStream = true
            exchange.isEventStream = eventStream
            exchange.connection?.writeStreamHead(status: status, headers: headers, for: exchange)
        }
        return stream
    }

    /// Whether the client is still there and the answer not yet complete.
    public var isOpen: Bool { exchange.openFlag.withLock { $0 } }

    /// `action` runs once, on the I/O queue, if the client goes away before
    /// the answer is complete (at once if it already has).
    public func onClose(_ action: @escaping @Sendable () -> Void) {
        let exchange = exchange
        queue.async { exchange.addCloseHandler(action) }
    }
}

/// The body of a streamed response, written from any thread in order.
public final class ResponseStream: @unchecked Sendable {
    private let exchange: Exchange
    private let queue: DispatchQueue

    init(exchange: Exchange, queue: DispatchQueue) {
        self.exchange = exchange
        self.queue = queue
    }

    public var isOpen: Bool { exchange.openFlag.withLock { $0 } }

    public func write(_ bytes: [UInt8]) {
        let exchange = exchange
        queue.async { exchange.connection?.writeStreamBody(bytes, for: exchange) }
    }

    public func write(_ text: String) { write(Array(text.utf8)) }

    public func write(_ event: ServerSentEvent) { write(event.encoded) }

    /// Ends the body.
    public func finish() {
        let exchange = exchange
        queue.async {
            exchange.openFlag.withLock { $0 = false }
            exchange.connection?.finishStream(exchange)
        }
    }
}

/// How one request was answered, for metrics and the request log.
public struct ExchangeRecord: Sendable, Equatable {
    public let method: String
    /// The route pattern (`/v1/sessions/{id}`), never the path's values;
    /// "unmatched" when no route matched, "-" when the request was refused
    /// before it was parsed.
    public let route: String
    /// The status sent; 0 if the client left before anything was.
    public let status: Int
    /// False when the client went away before the answer ended.
    public let completed: Bool
    /// From the request's dispatch to the end of its answer.
    public let seconds: Double
}
