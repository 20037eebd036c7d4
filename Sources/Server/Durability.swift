import Engine
import Foundation
import KVCache
import Logging
import Storage

/// Makes what must survive a restart durable: a session's ids when its turn
/// ends, stored responses, deletions. Writes run in order on their own
/// queue, off the engine thread; a turn's `done` is sent only after its
/// write, so a turn the client saw end is on disk. A failed write costs
/// durability, never the turn: it is logged and counted.
final class Durability: @unchecked Sendable {
    let store: DurableStore?
    let logger: Logger
    private let queue = DispatchQueue(label: "kvserve.durability")
    private let failures: (Int) -> Void

    init(store: DurableStore?, logger: Logger, failures: @escaping (Int) -> Void) {
        self.store = store
        self.logger = logger
        self.failures = failures
    }

    /// Saves `session` (if any) under `key`, then runs `then`, on the queue.
    func afterSaving(session key: String?, _ session: SessionStore.Session?, then: @escaping @Sendable () -> Void) {
        queue.async { [self] in
            if let key, let session {
                attempt("save session") {
                    try $0.saveSession(SessionRecord(key: key, tokens: session.tokens, chainHashes: session.chainHashes,
                                                     turns: session.turns, lastUsed: Date().timeIntervalSince1970))
                }
            }
            then()
        }
    }

    /// Runs `write` against the store on the queue (nothing without a store).
    func write(_ what: String, _ write: @escaping @Sendable (DurableStore) throws -> Void) {
        queue.async { [self] in attempt(what, write) }
    }

    /// Runs `write` at once, on the caller's thread (one already on the
    /// queue, whose answer must wait for it).
    func writeNow(_ what: String, _ write: (DurableStore) throws -> Void) {
        attempt(what, write)
    }

    /// Waits for every write queued so far (tests, shutdown).
    func flush() { queue.sync {} }

    private func attempt(_ what: String, _ write: (DurableStore) throws -> Void) {
        guard let store else { return }
        do { try write(store) } catch {
            failures(1)
            logger.error("durable store: \(what) failed: \(error)")
        }
    }
}
