import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// The durable store in a PostgreSQL database that several servers share
/// (`session_store: "postgres://..."`). A turn is committed with a version
/// check (`turns`), so two servers running a turn of one conversation at
/// once cannot fork it: the second commit finds the version moved on.
///
/// Every call blocks its thread until the database answers. The database
/// may be down: the store then throws `StoreUnavailable` at once (the
/// connection is refused), and the next call connects again, so the server
/// recovers by itself when the database returns. The schema is created or
/// migrated on the first connection, under an advisory lock, so replicas
/// starting together do not race.
public final class PostgresStore: DurableStore, @unchecked Sendable {
    public let location: PostgresLocation
    public var isShared: Bool { true }
    private let logger: Logger
    private let lock = NSLock()
    private var connection: PostgresConnection?
    private var nextConnectionID = 1

    /// Does not connect: the database may come up after the server.
    public init(location: PostgresLocation, logger: Logger = Logger(label: "kvserve.postgres")) {
        self.location = location
        self.logger = logger
    }

    deinit { if let connection { Self.drop(connection) } }

    /// Closes without waiting (the connection may already be dead).
    private static func drop(_ connection: PostgresConnection) {
        let closing: EventLoopFuture<Void> = connection.close()
        _ = closing
    }

    /// Each entry moves the schema one version on; entry k runs when the
    /// stored version is k. Never edit an entry; append one.
    static let migrations: [String] = [
        """
        CREATE TABLE kvserve_sessions (key TEXT PRIMARY KEY, tokens BYTEA NOT NULL, chain_hashes BYTEA NOT NULL,
                                       turns BIGINT NOT NULL, last_used DOUBLE PRECISION NOT NULL);
        CREATE TABLE kvserve_responses (key TEXT PRIMARY KEY, tokens BYTEA NOT NULL, json TEXT NOT NULL,
                                        last_used DOUBLE PRECISION NOT NULL);
        """,
    ]

    // MARK: sessions

    public func loadSessions() throws -> [SessionRecord] {
        try run { c, log in
            try c.query("SELECT key, tokens, chain_hashes, turns, last_used FROM kvserve_sessions", logger: log).answer().rows
                .compactMap(Self.session)
        }
    }

    public func loadSession(key: String) throws -> SessionRecord? {
        try run { c, log in
            try c.query("SELECT key, tokens, chain_hashes, turns, last_used FROM kvserve_sessions WHERE key = \(key)",
                              logger: log).answer().rows.compactMap(Self.session).first
        }
    }

    public func saveSession(_ r: SessionRecord) throws {
        try run { c, log in
            try c.query("""
                INSERT INTO kvserve_sessions (key, tokens, chain_hashes, turns, last_used)
                VALUES (\(r.key), \(Data(Codec.encode(r.tokens))), \(Data(Codec.encode(r.chainHashes))), \(r.turns), \(r.lastUsed))
                ON CONFLICT (key) DO UPDATE SET tokens = EXCLUDED.tokens, chain_hashes = EXCLUDED.chain_hashes,
                    turns = EXCLUDED.turns, last_used = EXCLUDED.last_used
                """, logger: log).answer()
        }
    }

    public func commitSession(_ r: SessionRecord, previousTurns: Int) throws -> Bool {
        try run { c, log in
            let tokens = Data(Codec.encode(r.tokens)), hashes = Data(Codec.encode(r.chainHashes))
            let rows: [PostgresRow]
            if previousTurns == 0 {
                rows = try c.query("""
                    INSERT INTO kvserve_sessions (key, tokens, chain_hashes, turns, last_used)
                    VALUES (\(r.key), \(tokens), \(hashes), \(r.turns), \(r.lastUsed))
                    ON CONFLICT (key) DO NOTHING RETURNING turns
                    """, logger: log).answer().rows
            } else {
                rows = try c.query("""
                    UPDATE kvserve_sessions SET tokens = \(tokens), chain_hashes = \(hashes), turns = \(r.turns),
                        last_used = \(r.lastUsed)
                    WHERE key = \(r.key) AND turns = \(previousTurns) RETURNING turns
                    """, logger: log).answer().rows
            }
            return rows.count == 1
        }
    }

    public func deleteSession(key: String) throws {
        try run { c, log in try c.query("DELETE FROM kvserve_sessions WHERE key = \(key)", logger: log).answer() }
    }

    public func expireSession(key: String, lastUsedBefore: Double) throws {
        try run { c, log in
            try c.query("DELETE FROM kvserve_sessions WHERE key = \(key) AND last_used < \(lastUsedBefore)", logger: log).answer()
        }
    }

    // MARK: responses

    public func loadResponses() throws -> [ResponseRecord] {
        try run { c, log in
            try c.query("SELECT key, tokens, json, last_used FROM kvserve_responses", logger: log).answer().rows.compactMap(Self.response)
        }
    }

    public func loadResponse(key: String) throws -> ResponseRecord? {
        try run { c, log in
            try c.query("SELECT key, tokens, json, last_used FROM kvserve_responses WHERE key = \(key)", logger: log).answer().rows
                .compactMap(Self.response).first
        }
    }

    public func saveResponse(_ r: ResponseRecord) throws {
        try run { c, log in
            try c.query("""
                INSERT INTO kvserve_responses (key, tokens, json, last_used) VALUES (\(r.key), \(Data(Codec.encode(r.tokens))), \(r.json), \(r.lastUsed))
                ON CONFLICT (key) DO UPDATE SET tokens = EXCLUDED.tokens, json = EXCLUDED.json, last_used = EXCLUDED.last_used
                """, logger: log).answer()
        }
    }

    public func deleteResponse(key: String) throws {
        try run { c, log in try c.query("DELETE FROM kvserve_responses WHERE key = \(key)", logger: log).answer() }
    }

    // MARK: rows

    /// nil for a damaged row (a length that is not a whole number of ids).
    private static func session(_ row: PostgresRow) -> SessionRecord? {
        guard let (key, tokens, hashes, turns, lastUsed) = try? row.decode((String, Data, Data, Int, Double).self),
              let ids = Codec.decode([UInt8](tokens), as: Int32.self), let chain = Codec.decode([UInt8](hashes), as: UInt64.self)
        else { return nil }
        return SessionRecord(key: key, tokens: ids, chainHashes: chain, turns: turns, lastUsed: lastUsed)
    }

    private static func response(_ row: PostgresRow) -> ResponseRecord? {
        guard let (key, tokens, json, lastUsed) = try? row.decode((String, Data, String, Double).self),
              let ids = Codec.decode([UInt8](tokens), as: Int32.self) else { return nil }
        return ResponseRecord(key: key, tokens: ids, json: json, lastUsed: lastUsed)
    }

    // MARK: the connection

    /// Runs `work` on the connection (connecting first if there is none),
    /// blocking this thread; one call at a time. A failure drops the
    /// connection, so the next call starts afresh.
    private func run<T>(_ work: (PostgresConnection, Logger) throws -> T) throws -> T {
        try lock.withLock {
            // A connection the server ended while idle (a restart) is never
            // used again: a query on it might not come back.
            if let stale = self.connection, stale.isClosed { self.connection = nil; Self.drop(stale) }
            let connection = try self.connection ?? connect()
            do {
                return try work(connection, logger)
            } catch {
                self.connection = nil
                Self.drop(connection)
                throw unavailable(error)
            }
        }
    }

    private func connect() throws -> PostgresConnection {
        let configuration = try location.configuration()
        nextConnectionID += 1
        let (id, logger) = (nextConnectionID, logger)
        let connection: PostgresConnection
        do {
            connection = try PostgresConnection.connect(on: Self.eventLoops.any(), configuration: configuration, id: id, logger: logger).answer()
        } catch {
            throw unavailable(error)
        }
        do {
            try Self.migrate(connection, logger: logger)
        } catch {
            Self.drop(connection)
            throw unavailable(error)
        }
        self.connection = connection
        return connection
    }

    /// The store's I/O thread. Calls wait on futures from the server's own
    /// threads, never from Swift concurrency's pool, which a blocked caller
    /// could starve.
    static let eventLoops: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

    /// How long a query may take before its connection is given up: a
    /// database that stopped answering must fail turns, not hold them.
    static let queryTimeout = TimeAmount.seconds(10)

    static func migrate(_ c: PostgresConnection, logger: Logger) throws {
        try c.query("BEGIN", logger: logger).answer()
        do {
            // One replica migrates; the others wait here, then find it done.
            try c.query("SELECT pg_advisory_xact_lock(7419023)", logger: logger).answer()
            try c.query("CREATE TABLE IF NOT EXISTS kvserve_schema (version INTEGER NOT NULL)", logger: logger).answer()
            let rows = try c.query("SELECT version FROM kvserve_schema", logger: logger).answer().rows
            var version = try rows.first?.decode(Int.self) ?? 0
            if rows.isEmpty { try c.query("INSERT INTO kvserve_schema (version) VALUES (0)", logger: logger) }
            guard version <= migrations.count else {
                throw StoreUnavailable(message: "the database's kvserve schema is version \(version), newer than this server's "
                                       + "\(migrations.count): upgrade the server")
            }
            while version < migrations.count {
                for statement in migrations[version].split(separator: ";") where !statement.allSatisfy(\.isWhitespace) {
                    try c.query(PostgresQuery(unsafeSQL: String(statement)), logger: logger).answer()
                }
                version += 1
                try c.query("UPDATE kvserve_schema SET version = \(version)", logger: logger).answer()
            }
            try c.query("COMMIT", logger: logger).answer()
        } catch {
            _ = try? c.query("ROLLBACK", logger: logger).answer()
            throw error
        }
    }

    /// The error a caller reports, without the password or query text.
    private func unavailable(_ error: Error) -> StoreUnavailable {
        if let error = error as? StoreUnavailable { return error }
        logger.error("PostgreSQL at \(location.redacted): \(String(reflecting: error))")
        var reason = "\(error)"
        if let psql = error as? PSQLError {
            reason = psql.serverInfo?[.message] ?? "\(psql.code)"
        }
        return StoreUnavailable(message: "the session store (PostgreSQL at \(location.redacted)) is unavailable: \(reason)")
    }
}

/// The session store cannot be reached or refused the operation; what was
/// asked of it did not happen.
public struct StoreUnavailable: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

extension EventLoopFuture {
    /// The value, waited for from a thread outside the event loop, or a
    /// timeout error after `PostgresStore.queryTimeout`.
    func answer() throws -> Value {
        let promise = eventLoop.makePromise(of: Value.self)
        let timeout = eventLoop.scheduleTask(in: PostgresStore.queryTimeout) {
            promise.fail(StoreUnavailable(message: "the session store did not answer within 10 s"))
        }
        cascade(to: promise)
        promise.futureResult.whenComplete { _ in timeout.cancel() }
        return try promise.futureResult.wait()
    }
}
