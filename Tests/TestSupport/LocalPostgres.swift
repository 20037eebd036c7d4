import Foundation

/// A throwaway PostgreSQL server on loopback for tests: Debian's binaries,
/// a fresh cluster in a temporary directory (trust authentication, no
/// fsync), run as the `postgres` user when the tests run as root, since
/// PostgreSQL refuses root. `stop()` and `start()` simulate an outage.
public final class LocalPostgres: @unchecked Sendable {
    public let directory: String
    public let port: Int
    private let binaries: String
    private let asPostgres: Bool

    /// Whether Debian's postgresql package is installed.
    public static var available: Bool { binaryDirectory != nil }

    static var binaryDirectory: String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted()
        guard let newest = versions.last else { return nil }
        let directory = "\(root)/\(newest)/bin"
        return FileManager.default.fileExists(atPath: "\(directory)/initdb") ? directory : nil
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public init() throws {
        guard let binaries = Self.binaryDirectory else { throw Failure(description: "PostgreSQL is not installed") }
        self.binaries = binaries
        asPostgres = geteuid() == 0
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-pg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        port = Self.freePort()
        if asPostgres { try run("/bin/chown", ["postgres:postgres", directory], asPostgres: false) }
        try run("\(binaries)/initdb", ["-D", directory, "-A", "trust", "-U", "postgres", "--no-sync"])
        try start()
        let stop = ["\(binaries)/pg_ctl", "-D", directory, "-m", "immediate", "-w", "stop"]
        let argv = asPostgres ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + stop : stop
        let directory = directory
        RunningServers.shared.add(directory) {
            _ = try? LocalPostgres.spawn(argv)
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    deinit {
        try? stop()
        try? FileManager.default.removeItem(atPath: directory)
        RunningServers.shared.remove(directory)
    }

    public var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres?sslmode=disable" }

    public func start() throws {
        try run("\(binaries)/pg_ctl", ["-D", directory, "-l", "\(directory)/log", "-w", "start",
                                       "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off"])
    }

    public func stop() throws {
        try run("\(binaries)/pg_ctl", ["-D", directory, "-m", "fast", "-w", "stop"])
    }

    /// posix_spawn and waitpid, not Foundation's Process: pg_ctl leaves the
    /// server running in the background, and Process waits until every
    /// descendant has let go of the descriptors it gave the child.
    private func run(_ tool: String, _ arguments: [String], asPostgres: Bool? = nil) throws {
        let argv = (asPostgres ?? self.asPostgres) ? ["/usr/sbin/runuser", "-u", "postgres", "--", tool] + arguments : [tool] + arguments
        guard try Self.spawn(argv) == 0 else {
            throw Failure(description: "\((tool as NSString).lastPathComponent) \(arguments.joined(separator: " ")) failed")
        }
    }

    /// Runs argv to its end, output discarded; its wait status.
    static func spawn(_ argv: [String]) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ) == 0 else {
            throw Failure(description: "cannot start \(argv[0])")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return status
    }

    private static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Test servers still running, stopped as the test process exits: one held
/// in a static (a server per process) is never deinitialised.
private final class RunningServers: @unchecked Sendable {
    static let shared = RunningServers()
    private let lock = NSLock()
    private var stops: [String: @Sendable () -> Void] = [:]

    private init() { atexit { RunningServers.shared.stopAll() } }

    func add(_ directory: String, stop: @escaping @Sendable () -> Void) { lock.withLock { stops[directory] = stop } }
    func remove(_ directory: String) { lock.withLock { _ = stops.removeValue(forKey: directory) } }
    func stopAll() { lock.withLock { Array(stops.values) }.forEach { $0() } }
}
