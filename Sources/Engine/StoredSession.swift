import KVCache
import Model

/// A shared store's copy of one session, read before a turn or a read of
/// it: another replica may have run turns of it since (a failover), or this
/// replica's copy may hold a turn the store refused. Syncing makes the
/// engine's copy the stored one; a busy session is left alone (its turn is
/// refused as busy anyway).
public struct StoredSession: Sendable {
    public struct Record: Sendable {
        public let tokens: [TokenID]
        public let chainHashes: [UInt64]
        public let turns: Int

        public init(tokens: [TokenID], chainHashes: [UInt64], turns: Int) {
            self.tokens = tokens
            self.chainHashes = chainHashes
            self.turns = turns
        }
    }

    public let key: String
    /// nil: the store has no such session.
    public let record: Record?

    public init(key: String, record: Record?) {
        self.key = key
        self.record = record
    }

    func sync(_ engine: DecodeEngine) {
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

/// What the server reads of a session: its length, last token, turns, and
/// whether a turn of it is running.
public struct SessionSummary: Sendable, Equatable {
    public let tokenCount: Int
    public let lastToken: TokenID?
    public let turns: Int
    public let busy: Bool

    init(_ session: SessionStore.Session) {
        tokenCount = session.tokens.count
        lastToken = session.tokens.last
        turns = session.turns
        busy = session.busy
    }
}
