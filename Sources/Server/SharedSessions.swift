import Engine
import Storage

extension Serving {
    /// The shared store's copy of session `key`, for the engine to sync to
    /// before the session is read or continued; nil when the store is this
    /// replica's own (then the engine's copy is the truth).
    func storedSession(_ key: String) throws(StoreUnavailable) -> StoredSession? {
        guard let store = durability.store, store.isShared else { return nil }
        do {
            let record = try store.loadSession(key: key)
            return StoredSession(key: key, record: record.map {
                StoredSession.Record(tokens: $0.tokens, chainHashes: $0.chainHashes, turns: $0.turns)
            })
        } catch {
            throw (error as? StoreUnavailable) ?? StoreUnavailable(message: "the session store failed: \(error)")
        }
    }
}
