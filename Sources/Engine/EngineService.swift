import Foundation

/// The engine on its own thread. Other threads reach it through an inbox of
/// jobs, run between steps; each request's events go to the sink it was
/// submitted with, called on the engine thread (sinks must be quick).
public final class EngineService: @unchecked Sendable {
    public typealias Sink = @Sendable (EngineEvent) -> Void

    private let engine: DecodeEngine
    private let condition = NSCondition()
    private var inbox: [() -> Void] = []
    private var sinks: [RequestID: Sink] = [:]
    private var thread: Thread?

    public init(engine: DecodeEngine) {
        self.engine = engine
        engine.diskTier?.wake = { [weak self] in self?.post {} }
    }

    public func start() {
        let thread = Thread { [self] in run() }
        thread.name = "kvserve-engine"
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    /// Runs `job` on the engine thread between steps and waits for its result.
    public func perform<R>(_ job: @escaping (DecodeEngine) -> R) -> R {
        nonisolated(unsafe) var result: R?
        let done = DispatchSemaphore(value: 0)
        post { [engine] in
            result = job(engine)
            done.signal()
        }
        done.wait()
        return result!
    }

    /// Queues `request`; its events go to `sink`. Refusals come back at once.
    /// `prepare` runs first, in the same visit to the engine thread (each
    /// visit waits for the step under way).
    public func submit(_ request: GenerationRequest, maxWaiting: Int = .max, prepare: ((DecodeEngine) -> Void)? = nil,
                       sink: @escaping Sink) -> Result<RequestID, AdmissionError> {
        perform { [self] engine in
            prepare?(engine)
            guard engine.waitingCount < maxWaiting else { return .failure(.queueFull(limit: maxWaiting)) }
            let result = Result { () throws(AdmissionError) -> RequestID in try engine.submit(request) }
            if case let .success(id) = result { sinks[id] = sink }
            return result
        }
    }

    /// Cancels a request (its client went away); does not wait.
    public func cancel(_ id: RequestID) {
        post { [self] in deliver(engine.cancel(id).map { [$0] } ?? []) }
    }

    /// Cancels every running and waiting request (the server is stopping);
    /// each turn rolls back like any cancelled one. Does not wait.
    public func cancelAll() {
        post { [self] in deliver(engine.cancelAll()) }
    }

    /// Ends a request as finished (a stop string was found); does not wait.
    public func stop(_ id: RequestID) {
        post { [self] in deliver(engine.stop(id).map { [$0] } ?? []) }
    }

    private func post(_ job: @escaping () -> Void) {
        condition.lock()
        inbox.append(job)
        condition.signal()
        condition.unlock()
    }

    private func deliver(_ events: [EngineEvent]) {
        for event in events {
            switch event {
            case let .token(id, _, _, _): sinks[id]?(event)
            case let .finished(id, _): sinks.removeValue(forKey: id)?(event)
            }
        }
    }

    private func run() {
        while true {
            condition.lock()
            // A step stalled on a disk read would block; the read's end posts a job.
            while inbox.isEmpty && (!engine.hasWork || engine.isStalledOnDisk) { condition.wait() }
            let jobs = inbox
            inbox.removeAll()
            condition.unlock()
            for job in jobs { job() }
            if engine.hasWork { deliver(engine.step()) }
        }
    }
}
