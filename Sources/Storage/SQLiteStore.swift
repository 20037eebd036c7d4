import Foundation

/// The durable store in one SQLite file (WAL, synchronous FULL: a save has
/// reached the disk when it returns). A file that is not a database or
/// fails its integrity check is set aside (renamed `.corrupt-<time>`),
/// reported, and replaced by an empty store: never a crash, never wrong ids.
public final class SQLiteStore: DurableStore, @unchecked Sendable {
    public let path: String
    /// What happened at opening that an operator should know (a file set aside).
    public private(set) var warnings: [String] = []
    private let database: SQLiteDatabase
    private let lock = NSLock()

    static let schema = """
        CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, tokens BLOB NOT NULL, chain_hashes BLOB NOT NULL,
                                             turns INTEGER NOT NULL, last_used REAL NOT NULL);
        CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, tokens BLOB NOT NULL, json TEXT NOT NULL,
                                              last_used REAL NOT NULL);
        """

    public init(path: String) throws {
        self.path = path
        var warnings: [String] = []
        func open() throws -> SQLiteDatabase {
            let database = try SQLiteDatabase(path: path)
            try database.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
            let check = try database.query("PRAGMA quick_check")
            guard check.first?.first?.text == "ok" else {
                throw SQLiteDatabase.Failure(path: path, message: "integrity check: \(check.compactMap { $0.first?.text }.joined(separator: "; "))")
            }
            try database.execute(Self.schema)
            return database
        }
        do {
            database = try open()
        } catch {
            guard FileManager.default.fileExists(atPath: path) else { throw error }
            let aside = path + ".corrupt-\(Int(Date().timeIntervalSince1970))"
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
                try FileManager.default.moveItem(atPath: path + suffix, toPath: aside + suffix)
            }
            warnings.append("the session store \(path) could not be read (\(error)); it was moved to \(aside) and a new one started")
            database = try open()
        }
        self.warnings = warnings
    }

    /// One process writes this file (it is the server's own data directory).
    public var isShared: Bool { false }

    public func loadSessions() throws -> [SessionRecord] {
        try lock.withLock {
            try database.query("SELECT key, tokens, chain_hashes, turns, last_used FROM sessions").compactMap(Self.session)
        }
    }

    public func loadSession(key: String) throws -> SessionRecord? {
        try lock.withLock {
            try database.query("SELECT key, tokens, chain_hashes, turns, last_used FROM sessions WHERE key = ?", [.text(key)])
                .compactMap(Self.session).first
        }
    }

    public func commitSession(_ r: SessionRecord, previousTurns: Int) throws -> Bool {
        try lock.withLock {
            try database.execute("BEGIN IMMEDIATE")
            do {
                let stored = try database.query("SELECT turns FROM sessions WHERE key = ?", [.text(r.key)]).first?[0].integer ?? 0
                guard stored == Int64(previousTurns) else {
                    try database.execute("ROLLBACK")
                    return false
                }
                try database.query("INSERT OR REPLACE INTO sessions (key, tokens, chain_hashes, turns, last_used) VALUES (?, ?, ?, ?, ?)",
                                   Self.bindings(r))
                try database.execute("COMMIT")
                return true
            } catch {
                try? database.execute("ROLLBACK")
                throw error
            }
        }
    }

    public func expireSession(key: String, lastUsedBefore: Double) throws {
        _ = try lock.withLock {
            try database.query("DELETE FROM sessions WHERE key = ? AND last_used < ?", [.text(key), .real(lastUsedBefore)])
        }
    }

    public func loadResponse(key: String) throws -> ResponseRecord? {
        try lock.withLock {
            try database.query("SELECT key, tokens, json, last_used FROM responses WHERE key = ?", [.text(key)]).compactMap(Self.response).first
        }
    }

    private static func session(_ row: [SQLiteDatabase.Value]) -> SessionRecord? {
        guard let key = row[0].text, let tokens = row[1].blob, let hashes = row[2].blob,
              let turns = row[3].integer, let lastUsed = row[4].real,
              let ids = Codec.decode(tokens, as: Int32.self), let chain = Codec.decode(hashes, as: UInt64.self)
        else { return nil }
        return SessionRecord(key: key, tokens: ids, chainHashes: chain, turns: Int(turns), lastUsed: lastUsed)
    }

    private static func response(_ row: [SQLiteDatabase.Value]) -> ResponseRecord? {
        guard let key = row[0].text, let tokens = row[1].blob, let json = row[2].text, let lastUsed = row[3].real,
              let ids = Codec.decode(tokens, as: Int32.self) else { return nil }
        return ResponseRecord(key: key, tokens: ids, json: json, lastUsed: lastUsed)
    }

    private static func bindings(_ r: SessionRecord) -> [SQLiteDatabase.Value] {
        [.text(r.key), .blob(Codec.encode(r.tokens)), .blob(Codec.encode(r.chainHashes)), .integer(Int64(r.turns)), .real(r.lastUsed)]
    }

    public func saveSession(_ r: SessionRecord) throws {
        _ = try lock.withLock {
            try database.query("INSERT OR REPLACE INTO sessions (key, tokens, chain_hashes, turns, last_used) VALUES (?, ?, ?, ?, ?)",
                               Self.bindings(r))
        }
    }

    public func deleteSession(key: String) throws {
        _ = try lock.withLock { try database.query("DELETE FROM sessions WHERE key = ?", [.text(key)]) }
    }

    public func loadResponses() throws -> [ResponseRecord] {
        try lock.withLock {
            try database.query("SELECT key, tokens, json, last_used FROM responses").compactMap(Self.response)
        }
    }

    public func saveResponse(_ r: ResponseRecord) throws {
        _ = try lock.withLock {
            try database.query("INSERT OR REPLACE INTO responses (key, tokens, json, last_used) VALUES (?, ?, ?, ?)",
                               [.text(r.key), .blob(Codec.encode(r.tokens)), .text(r.json), .real(r.lastUsed)])
        }
    }

    public func deleteResponse(key: String) throws {
        _ = try lock.withLock { try database.query("DELETE FROM responses WHERE key = ?", [.text(key)]) }
    }
}
