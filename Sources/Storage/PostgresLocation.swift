import Foundation
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL store is: `postgres://user[:password]@host[:port]/database[?sslmode=MODE]`
/// (`postgresql://` too; user, password and database percent-decoded).
/// `sslmode` as libpq reads it: `disable`, `prefer` (the default: TLS when
/// the server offers it, its certificate not checked), `require` (TLS, not
/// checked) or `verify-full` (TLS, certificate and host name checked).
public struct PostgresLocation: Sendable, Equatable {
    public enum TLSMode: String, Sendable {
        case disable, prefer, require
        case verifyFull = "verify-full"
    }

    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(url text: String) throws(Invalid) {
        guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? "") else {
            throw Invalid(description: "not a postgres://user@host/database address")
        }
        guard let host = url.host, !host.isEmpty else { throw Invalid(description: "the address names no host") }
        guard let user = url.percentEncodedUser?.removingPercentEncoding, !user.isEmpty else {
            throw Invalid(description: "the address names no user (postgres://USER@host/database)")
        }
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw Invalid(description: "the address names no database (postgres://user@host/DATABASE)")
        }
        var tls = TLSMode.prefer
        for item in url.queryItems ?? [] {
            guard item.name == "sslmode", let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                throw Invalid(description: "unsupported parameter '\(item.name)=\(item.value ?? "")' (only sslmode=disable|prefer|require|verify-full)")
            }
            tls = mode
        }
        self.user = user
        password = url.percentEncodedPassword?.removingPercentEncoding
        self.host = host
        port = url.port ?? 5432
        self.database = database
        self.tls = tls
    }

    /// For logs and errors: never the password.
    public var redacted: String { "\(user)@\(host):\(port)/\(database)" }

    func configuration() throws -> PostgresConnection.Configuration {
        var unchecked = TLSConfiguration.makeClientConfiguration()
        unchecked.certificateVerification = .none
        let mode: PostgresConnection.Configuration.TLS
        switch tls {
        case .disable: mode = .disable
        case .prefer: mode = .prefer(try NIOSSLContext(configuration: unchecked))
        case .require: mode = .require(try NIOSSLContext(configuration: unchecked))
        case .verifyFull: mode = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var c = PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: mode)
        // A database that is down must fail a turn quickly, not hold it.
        c.options.connectTimeout = .seconds(3)
        return c
    }
}
