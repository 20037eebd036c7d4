import Dispatch
import Engine
import Storage

/// A shared store's copy of one session, read before a turn or a read of
/// it: another replica may have run turns of it since (a failover), or this
/// replica's copy may hold a turn the store refused. Applying it makes the
/// engine's copy the stored one; a busy session is left alone (its turn is
/// refused as busy anyway).
struct StoredSession: Sendable {
    let key: String
    /// nil: the store has no such session.
    let record: SessionRecord?

    func apply(to engine: DecodeEngine) {
        let local = engine.sessions[key]
        guard local?.busy != true else { return }
        if let record {
            guard local?.tokens != record.tokens || local?.turns != record.turns else { return }
            // If it cannot be held (the pool full of busy sequences), the
            // stale copy stays and the turn's commit is refused (409): the
            // conversation does not fork.
            _ = engine.restoreSession(key, tokens: record.tokens, chainHashes: record.chainHashes, turns: record.turns)
        } else if local != nil {
            _ = try? engine.deleteSession(key)
        }
    }
}

extension Serving {
    /// The stored copy of session `key`, or nil when the store is this
    /// replica's own (then the engine's copy is the truth).
    func storedSession(_ key: String) throws(StoreUnavailable) -> StoredSession? {
        guard let store = durability.store, store.isShared else { return nil }
        do { return StoredSession(key: key, record: try store.loadSession(key: key)) } catch {
            throw (error as? StoreUnavailable) ?? StoreUnavailable(message: "the session store failed: \(error)")
        }
    }
}
