/// Conversations by id: the exact token ids each has seen, and its block
/// table kept by content (the chain hashes of its full blocks), never by
/// block id. A session therefore pins nothing: its blocks are ordinary cached
/// blocks that memory pressure may evict, and a later turn finds whichever
/// are still resident through the prefix index and recomputes the rest from
/// the stored ids.
///
/// Invariants: at most `maxSessions` sessions; a session's history is never
/// longer than `maxTokens`; a busy session (a turn in flight) is neither
/// expired nor deleted, and gets no second turn until the first ends.
public struct SessionStore: Sendable {
    public struct Session: Sendable, Equatable {
        public internal(set) var tokens: [Int32] = []
        public internal(set) var chainHashes: [UInt64] = []
        public internal(set) var turns = 0
        /// Seconds on the caller's clock when the last turn ended (or began).
        public internal(set) var lastUsed: Double
        public internal(set) var busy = false
        /// Leading tokens of the history that the running turn keeps.
        var turnBase = 0
    }

    public enum Refusal: Error, Equatable, CustomStringConvertible {
        /// A turn of this session is already running.
        case busy(String)
        /// Creating it would exceed `max_sessions`.
        case full(limit: Int)
        /// The history plus this turn would exceed the session length limit.
        case tooLong(session: String, history: Int, adding: Int, limit: Int)
        /// Another turn changed the history that this request was prepared for.
        case changed(String)

        public var description: String {
            switch self {
            case .busy(let id):
                return "session '\(id)' already has a request in progress; send the next turn when it ends"
            case .full(let limit):
                return "the server holds its maximum of \(limit) sessions (max_sessions); delete one or wait for idle ones to expire"
            case let .tooLong(session, history, adding, limit):
                return "session '\(session)' holds \(history) tokens; adding \(adding) more would exceed its limit of \(limit) tokens"
            case .changed(let id):
                return "session '\(id)' changed while this request was being prepared; send it again"
            }
        }
    }

    public let maxSessions: Int
    public let maxTokens: Int
    public let timeToLive: Double
    public private(set) var sessions: [String: Session] = [:]

    public init(maxSessions: Int, maxTokens: Int, timeToLive: Double) {
        precondition(maxSessions > 0 && maxTokens > 0 && timeToLive > 0)
        self.maxSessions = maxSessions
        self.maxTokens = maxTokens
        self.timeToLive = timeToLive
    }

    public var count: Int { sessions.count }
    public subscript(id: String) -> Session? { sessions[id] }

    /// Begins a turn that keeps the first `keeping` tokens of the history
    /// (all of them when nil) and adds up to `adding` tokens (prompt plus
    /// generated), creating the session on first use. Returns the session,
    /// its history untouched until the turn ends.
    public mutating func begin(_ id: String, keeping: Int? = nil, adding: Int, now: Double) throws(Refusal) -> Session {
        var session = sessions[id] ?? Session(lastUsed: now)
        if sessions[id] == nil, sessions.count >= maxSessions { throw .full(limit: maxSessions) }
        guard !session.busy else { throw .busy(id) }
        let kept = min(keeping ?? session.tokens.count, session.tokens.count)
        guard kept + adding <= maxTokens else {
            throw .tooLong(session: id, history: kept, adding: adding, limit: maxTokens)
        }
        session.busy = true
        session.turnBase = kept
        session.lastUsed = now
        sessions[id] = session
        return session
    }

    /// Ends the turn begun with `begin`. With `tokens` (the whole history now,
    /// extending the part the turn kept) the turn is kept; with nil it is
    /// rolled back (cancelled or failed), the history as it was, and a
    /// session that had no turn disappears.
    public mutating func end(_ id: String, tokens: [Int32]?, chainHashes: [UInt64], now: Double) {
        guard var session = sessions[id], session.busy else { preconditionFailure("ending a turn of '\(id)' that was not begun") }
        session.busy = false
        session.lastUsed = now
        if let tokens {
            precondition(tokens.starts(with: session.tokens.prefix(session.turnBase)) && tokens.count <= maxTokens)
            session.tokens = tokens
            session.chainHashes = chainHashes
            session.turns += 1
        } else if session.turns == 0 {
            sessions[id] = nil
            return
        }
        sessions[id] = session
    }

    /// Puts back a session kept from an earlier run (its turns survived a
    /// restart); false when the store is full or the history too long.
    @discardableResult
    public mutating func restore(_ id: String, tokens: [Int32], chainHashes: [UInt64], turns: Int, lastUsed: Double) -> Bool {
        guard sessions[id] == nil ? sessions.count < maxSessions : !sessions[id]!.busy, tokens.count <= maxTokens else { return false }
        sessions[id] = Session(tokens: tokens, chainHashes: chainHashes, turns: turns, lastUsed: lastUsed)
        return true
    }

    /// Keeps the first `count` tokens of an idle session's history (and the
    /// chain hashes of their full blocks), as if its last turn had ended there.
    public mutating func cut(_ id: String, to count: Int, chainHashes: [UInt64]) {
        guard var session = sessions[id], !session.busy, count <= session.tokens.count else { return }
        session.tokens.removeLast(session.tokens.count - count)
        session.chainHashes = chainHashes
        sessions[id] = session
    }

    /// Replaces an idle session's history with `tokens`, the same
    /// conversation as its next request will render it; `chainHashes` are
    /// those of their full blocks (at least of the ones shared with the
    /// history). False, and nothing changed, when it is busy or too long.
    public mutating func rewrite(_ id: String, tokens: [Int32], chainHashes: [UInt64]) -> Bool {
        guard var session = sessions[id], !session.busy, tokens.count <= maxTokens else { return false }
        session.tokens = tokens
        session.chainHashes = chainHashes
        sessions[id] = session
        return true
    }

    /// Removes an idle session; false if there is none by that id.
    public mutating func delete(_ id: String) throws(Refusal) -> Bool {
        guard let session = sessions[id] else { return false }
        guard !session.busy else { throw .busy(id) }
        sessions[id] = nil
        return true
    }

    /// Removes sessions idle for longer than the time to live; returns their ids.
    public mutating func expire(now: Double) -> [String] {
        let expired = sessions.filter { !$0.value.busy && now - $0.value.lastUsed > timeToLive }.map(\.key)
        for id in expired { sessions[id] = nil }
        return expired
    }
}
