import Dispatch

/// Where one request's time to first token went, stage by stage: what the
/// route does before the engine has it (parse, store read, template,
/// tokenize), the engine's queue and prefill, and writing the first token.
/// Recorded per stage in /metrics (`kvserve_ttft_stage_seconds`) and in a
/// debug log line per turn. Marks are made in order: the time since the
/// previous mark goes to the stage named (the route's own validation, at
/// any point, counts as parsing). A reference: the route and then its turn
/// mark it, on one thread at a time (the turn's queue after submission).
final class RequestStages: @unchecked Sendable {
    enum Stage: String, CaseIterable {
        case parse, storeRead = "store_read", template, tokenize, queueWait = "queue_wait", prefill, firstWrite = "first_write"
    }

    private(set) var seconds: [Stage: Double] = [:]
    /// Uptime nanoseconds: when the request reached its route, and the last mark.
    let started: UInt64
    private var last: UInt64

    init(started: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        self.started = started
        last = started
    }

    /// The time since the previous mark belongs to `stage`.
    func end(_ stage: Stage, at now: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        seconds[stage, default: 0] += Double(now - min(now, last)) / 1e9
        last = now
    }

    func add(_ stage: Stage, seconds value: Double) { seconds[stage, default: 0] += max(0, value) }
}
