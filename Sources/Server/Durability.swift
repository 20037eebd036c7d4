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

    /// What became of a turn's session.
    enum Outcome {
        /// Saved (or there was nothing to save, or a private store failed:
        /// that costs durability, not the turn).
        case kept
        /// A shared store holds a later turn of it: this one was not kept.
        case conflict
        /// A shared store could not be reached: this turn was not kept.
        case unavailable(String)
    }

    /// Saves `session` (if any) under `key`, then runs `then`, on the
    /// queue. In a shared store the turn commits only on top of the
    /// record it started from.
    func afterSaving(session key: String?, _ session: SessionStore.Session?, then: @escaping @Sendable (Outcome) -> Void) {
        queue.async { [self] in
            guard let key, let session, let store else { return then(.kept) }
            let record = SessionRecord(key: key, tokens: session.tokens, chainHashes: session.chainHashes,
                                       turns: session.turns, lastUsed: Date().timeIntervalSince1970)
            guard store.isShared else {
                attempt("save session") { try $0.saveSession(record) }
                return then(.kept)
            }
            do {
                then(try store.commitSession(record, previousTurns: session.turns - 1) ? .kept : .conflict)
            } catch {
                failures(1)
                logger.error("durable store: commit session failed: \(error)")
                then(.unavailable((error as? StoreUnavailable)?.message ?? "the session store failed: \(error)"))
            }
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
