import Foundation
import KVCache
import KVDisk
import Model

/// The engine on its own thread, and the API the server uses of it. Other
/// threads reach the engine through an inbox of jobs, run between steps;
/// each request's events go to the sink it was submitted with, called on
/// the engine thread: a sink only hands them on (a turn's presentation
/// runs on its own queue, never here).
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

    /// Runs `job` on the engine thread between steps and waits for its
    /// result. For tests and tools that look inside; the server uses the
    /// methods below.
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
    /// `syncing`: a shared store's copy of the request's session, made the
    /// engine's first, in the same visit to the engine thread (each visit
    /// waits for the step under way).
    public func submit(_ request: GenerationRequest, maxWaiting: Int = .max, syncing stored: StoredSession? = nil,
                       sink: @escaping Sink) -> Result<RequestID, AdmissionError> {
        perform { [self] engine in
            stored?.sync(engine)
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

    /// Ends a request as finished (a stop string was found in its first
    /// `keeping` generated tokens); does not wait.
    public func stop(_ id: RequestID, keeping: Int? = nil) {
        post { [self] in deliver(engine.stop(id, keeping: keeping).map { [$0] } ?? []) }
    }

    /// Session `key` (after syncing the shared store's copy, if given), or nil.
    public func session(_ key: String, syncing stored: StoredSession? = nil) -> SessionSummary? {
        perform { engine in
            stored?.sync(engine)
            return engine.sessions[key].map(SessionSummary.init)
        }
    }

    /// Deletes idle session `key` (after syncing the shared store's copy):
    /// false when there is none, a refusal when a turn of it is running.
    public func deleteSession(_ key: String, syncing stored: StoredSession? = nil) -> Result<Bool, SessionStore.Refusal> {
        perform { engine in
            stored?.sync(engine)
            return Result { () throws(SessionStore.Refusal) -> Bool in try engine.deleteSession(key) }
        }
    }

    /// Drops this engine's copy of idle session `key` (it ran ahead of a
    /// shared store that refused its turn); does not wait.
    public func forgetSession(_ key: String) {
        post { [engine] in _ = try? engine.deleteSession(key) }
    }

    /// `DecodeEngine.cutSession`, on the engine thread.
    public func cutSession(_ key: String, to tokens: Int, expecting current: Int) -> SessionStore.Session? {
        perform { $0.cutSession(key, to: tokens, expecting: current) }
    }

    /// `DecodeEngine.prefillWhenIdle`; does not wait.
    public func prefillWhenIdle(_ tokens: [TokenID], salt: UInt64) {
        post { [engine] in engine.prefillWhenIdle(tokens, salt: salt) }
    }

    /// `DecodeEngine.rewriteSession`, on the engine thread.
    public func rewriteSession(_ key: String, to tokens: [TokenID], expecting current: Int, salt: UInt64,
                               prefill: Bool = true) -> SessionStore.Session? {
        perform { $0.rewriteSession(key, to: tokens, expecting: current, salt: salt, prefill: prefill) }
    }

    /// What the engine holds right now (for metrics).
    public func status() -> EngineStatus {
        perform { engine in
            EngineStatus(usage: engine.cache.usage, running: engine.runningCount, waiting: engine.waitingCount,
                         sessions: engine.sessions.count, disk: engine.diskTier?.usage)
        }
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

/// What the engine holds at one moment, read on its thread.
public struct EngineStatus: Sendable {
    public let usage: CacheUsage
    public let running: Int, waiting: Int, sessions: Int
    public let disk: DiskTier.Usage?
}
