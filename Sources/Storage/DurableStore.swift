/// What survives a restart or a crash: the token ids of every session and
/// of every stored response, the truth the K/V cache is recomputed from.
/// Writes happen once per turn; an implementation must make a record
/// durable before its save call returns. A store that cannot be reached
/// throws `StoreUnavailable`.
public protocol DurableStore: AnyObject, Sendable {
    /// Whether other servers write this store too. Then a session's stored
    /// record, not this server's copy, is the truth: a turn starts from it
    /// and commits with `commitSession`.
    var isShared: Bool { get }
    func loadSessions() throws -> [SessionRecord]
    func loadSession(key: String) throws -> SessionRecord?
    func saveSession(_ record: SessionRecord) throws
    /// Saves a turn's session only if the stored one is still the one the
    /// turn started from (`previousTurns` turns; 0: none stored). false: it
    /// moved on (another server ran a turn of it) and nothing was written.
    func commitSession(_ record: SessionRecord, previousTurns: Int) throws -> Bool
    func deleteSession(key: String) throws
    /// Deletes the session unless it was used at `lastUsedBefore` or later
    /// (by another server, in a shared store).
    func expireSession(key: String, lastUsedBefore: Double) throws
    func loadResponses() throws -> [ResponseRecord]
    func loadResponse(key: String) throws -> ResponseRecord?
    func saveResponse(_ record: ResponseRecord) throws
    func deleteResponse(key: String) throws
}

/// A session as stored: its tenant-qualified key, exact token ids, the
/// chain hashes of its full blocks, its turns, and when it was last used
/// (seconds since 1970).
public struct SessionRecord: Sendable, Equatable {
    public var key: String
    public var tokens: [Int32]
    public var chainHashes: [UInt64]
    public var turns: Int
    public var lastUsed: Double

    public init(key: String, tokens: [Int32], chainHashes: [UInt64], turns: Int, lastUsed: Double) {
        self.key = key
        self.tokens = tokens
        self.chainHashes = chainHashes
        self.turns = turns
        self.lastUsed = lastUsed
    }
}

/// A stored response (the Responses API): its tenant-qualified key, the
/// token ids up to the end of its output, the response object as JSON, and
/// when it was last used.
public struct ResponseRecord: Sendable, Equatable {
    public var key: String
    public var tokens: [Int32]
    public var json: String
    public var lastUsed: Double

    public init(key: String, tokens: [Int32], json: String, lastUsed: Double) {
        self.key = key
        self.tokens = tokens
        self.json = json
        self.lastUsed = lastUsed
    }
}
