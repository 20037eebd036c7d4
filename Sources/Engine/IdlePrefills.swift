import Model

/// The engine's prefills without a reply (`DecodeEngine.prefillWhenIdle`):
/// a queue, oldest first, and the one admitted. Invariant: `current` is
/// never also queued; the queue holds at most `limit`, dropping the oldest.
struct IdlePrefills {
    struct Prefill {
        /// Its sequence id in the cache, from the engine's request ids.
        let id: RequestID
        let tokens: [TokenID]
        let salt: UInt64
    }

    /// Prefills beyond this many waiting are dropped, oldest first: a
    /// conversation's next request comes soon after its turn or not at all.
    static let limit = 64

    private var queue: [Prefill] = []
    var current: Prefill?

    var hasWork: Bool { current != nil || !queue.isEmpty }

    /// Queues `prefill`, replacing a queued one it extends (the same
    /// conversation's earlier turn).
    mutating func enqueue(_ prefill: Prefill) {
        queue.removeAll { $0.salt == prefill.salt && prefill.tokens.starts(with: $0.tokens) }
        queue.append(prefill)
        if queue.count > Self.limit { queue.removeFirst(queue.count - Self.limit) }
    }

    /// One that yielded to a request goes first when the engine is idle again.
    mutating func resume(_ prefill: Prefill) { queue.insert(prefill, at: 0) }

    mutating func next() -> Prefill? { queue.isEmpty ? nil : queue.removeFirst() }
}
