import Foundation
import JSONTree
import Testing
@testable import Server
@testable import HTTPServer

private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
private let defaultsFile = repositoryRoot.appendingPathComponent("config/kvserve.json").path

private func writeTemporary(_ text: String) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-config-\(UUID().uuidString).json")
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
}

@Suite struct ConfigurationTests {
    /// The shipped file names only the paths it resolves (the defaults are
    /// Configuration's own): loaded, it gives the defaults.
    @Test func shippedFileGivesTheDefaults() throws {
        let object = try JSON.parse(Data(contentsOf: URL(fileURLWithPath: defaultsFile)))
        let keys = try #require(object.objectValue).map(\.key)
        #expect(Set(keys).isSubset(of: Set(Configuration.keyNames)))
        var defaults = Configuration()
        defaults.model = repositoryRoot.appendingPathComponent(defaults.model).standardizedFileURL.path
        defaults.dataDir = repositoryRoot.appendingPathComponent(defaults.dataDir).standardizedFileURL.path
        #expect(try Configuration.load(file: defaultsFile, environment: [:]) == defaults)
    }

    /// A value other than the default for every key, valid, as a file writes it.
    static let samples: [String: JSON] = [
        "host": "0.0.0.0", "port": 9123, "model": "/m/other.gguf", "kv_cache_bytes": 2097152, "block_size": 32,
        "kv_cache_type": "q8_0", "max_sessions": 7, "session_ttl_seconds": 61, "max_session_tokens": 1000, "max_batch_sequences": 3,
        "max_prefill_tokens_per_step": 64, "max_waiting": 5, "max_connections": 9, "max_header_bytes": 4096,
        "max_header_count": 12, "max_body_bytes": 1000, "header_timeout_seconds": 3, "body_timeout_seconds": 4,
        "idle_timeout_seconds": 5, "write_timeout_seconds": 6, "shutdown_grace_seconds": 2, "threads": 1,
        "api_keys": ["k1", "k2"], "api_keys_file": "/etc/keys.txt", "share_prefix_cache": "all", "max_stored_responses": 8,
        "response_ttl_seconds": 99, "data_dir": "/var/kv", "session_store": "postgres://kv:pw@db.example:5433/kv?sslmode=disable",
        "kv_disk_path": "/var/kv/blocks", "kv_disk_bytes": 0, "chat_template": "/t/chat.jinja", "reasoning_budget": 512, "speculation": "off", "replica_name": "replica-2",
        "log_level": "debug",
    ]

    /// A sample as a variable or flag writes it.
    static func text(_ value: JSON) -> String {
        value.stringValue ?? value.arrayValue?.compactMap(\.stringValue).joined(separator: ",") ?? value.serialized
    }

    /// Every key reaches the configuration from each source: a file, a
    /// variable and a flag; URL- and name-valued keys are kept as written.
    @Test func everyKeyFromEverySource() throws {
        #expect(Set(Self.samples.keys) == Set(Configuration.keyNames))
        for name in Configuration.keyNames { #expect(Configuration().value(of: name) != Self.samples[name], "\(name)") }
        let file = try writeTemporary(JSON.object(Self.samples.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }).serialized)
        let fromFile = try Configuration.load(file: file, environment: [:])
        let environment = Dictionary(uniqueKeysWithValues: Self.samples.map { ("KVSERVE_" + $0.key.uppercased(), Self.text($0.value)) })
        let fromVariables = try Configuration.load(file: nil, environment: environment)
        let fromFlags = try Configuration.load(file: nil, environment: [:], overrides: Self.samples.mapValues(Self.text))
        for (name, sample) in Self.samples {
            #expect(fromFile.value(of: name) == sample, "\(name) from a file")
            #expect(fromVariables.value(of: name) == sample, "\(name) from KVSERVE_\(name.uppercased())")
            #expect(fromFlags.value(of: name) == sample, "\(name) from --set")
        }
    }

    /// A relative SQLite path in a file is the file's; a URL or "memory" never is a path.
    @Test func sessionStoreIsAPathOnlyWhenItIsOne() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("k.json").path
        for (written, expected) in [("s.sqlite", directory.appendingPathComponent("s.sqlite").path), ("memory", "memory"),
                                    ("postgresql://u@h/d", "postgresql://u@h/d"), ("", "")] {
            try (["session_store": JSON(written), "replica_name": "a/b"] as JSON).serialized.write(toFile: file, atomically: true, encoding: .utf8)
            let config = try Configuration.load(file: file, environment: [:])
            #expect(config.sessionStore == expected)
            #expect(config.replicaName == "a/b")
        }
        #expect(throws: Configuration.Error(key: "session_store", source: "KVSERVE_SESSION_STORE",
                                            message: "the address names no database (postgres://user@host/DATABASE)")) {
            try Configuration.load(file: nil, environment: ["KVSERVE_SESSION_STORE": "postgres://u@h"])
        }
    }

    /// The configuration table of docs/configuration.md lists every key
    /// with its default and its variable.
    @Test func tableAgreesWithTheDefaults() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "\n## Configuration\n").dropFirst().first)
        var rows: [String: (defaultValue: String, variable: String)] = [:]
        for line in section.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`")) }
            rows[cells[0]] = (cells[1], cells[2])
        }
        #expect(Set(rows.keys) == Set(Configuration.keyNames))
        let defaults = Configuration()
        for (key, row) in rows {
            #expect(row.variable == "KVSERVE_" + key.uppercased(), "\(key)")
            let written = try #require(defaults.value(of: key)).serialized
            #expect(row.defaultValue == written, "\(key): the table says \(row.defaultValue), the default is \(written)")
        }
    }

    @Test func pathsResolveWhereTheyWereWritten() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-\(UUID().uuidString)/conf")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("k.json").path
        try #"{"model": "../m/a.gguf", "api_keys_file": "keys.txt"}"#.write(toFile: file, atomically: true, encoding: .utf8)
        let config = try Configuration.load(file: file, environment: [:])
        #expect(config.model == directory.deletingLastPathComponent().appendingPathComponent("m/a.gguf").path)
        #expect(config.apiKeysFile == directory.appendingPathComponent("keys.txt").path)
        // From the environment or the command line, a path is the working directory's.
        #expect(try Configuration.load(file: file, environment: ["KVSERVE_MODEL": "x.gguf"]).model == "x.gguf")
        #expect(try Configuration.load(file: file, environment: [:], overrides: ["model": "/abs.gguf"]).model == "/abs.gguf")
    }

    @Test func anUnknownVariableIsAnError() throws {
        #expect(throws: Configuration.Error.self) { try Configuration.load(file: nil, environment: ["KVSERVE_PROT": "80"]) }
        #expect(try Configuration.load(file: nil, environment: ["KVSERVE_TEST_MODEL": "x", "KVSERVE_TEST_OFFLINE_IMAGES": "y",
                                                                "OTHER_PORT": "1"]).port == 8080)
    }

    @Test func environmentThenFlagsOverride() throws {
        let config = try Configuration.load(
            file: defaultsFile,
            environment: ["KVSERVE_PORT": "9000", "KVSERVE_KV_CACHE_BYTES": "2097152", "KVSERVE_API_KEYS": "a, b"],
            overrides: ["port": "9001"])
        #expect(config.port == 9001)
        #expect(config.kvCacheBytes == 2_097_152)
        #expect(config.apiKeys == ["a", "b"])
    }

    @Test func badValuesNameTheKeyAndSource() throws {
        #expect(throws: Configuration.Error(key: "port", source: "KVSERVE_PORT", message: "70000 is outside 0...65535")) {
            try Configuration.load(file: nil, environment: ["KVSERVE_PORT": "70000"])
        }
        #expect(throws: Configuration.Error(key: "block_size", source: "KVSERVE_BLOCK_SIZE", message: "20 is not a multiple of 8")) {
            try Configuration.load(file: nil, environment: ["KVSERVE_BLOCK_SIZE": "20"])
        }
        #expect(throws: Configuration.Error(key: "kv_cache_type", source: "command line", message: "'q8' is not one of f16, q8_0, f32")) {
            try Configuration.load(file: nil, environment: [:], overrides: ["kv_cache_type": "q8"])
        }
        let file = try writeTemporary(#"{"port": "80", "prot": 1}"#)
        #expect(throws: Configuration.Error(key: "port", source: file, message: "must be an integer, not a string")) {
            try Configuration.load(file: file, environment: [:])
        }
        let unknown = try writeTemporary(#"{"prot": 1}"#)
        #expect(throws: Configuration.Error.self) { try Configuration.load(file: unknown, environment: [:]) }
        let boolean = try writeTemporary(#"{"threads": true}"#)
        #expect(throws: Configuration.Error(key: "threads", source: boolean, message: "must be an integer, not a boolean")) {
            try Configuration.load(file: boolean, environment: [:])
        }
    }
}

@Suite struct ServerSentEventTests {
    @Test func encodesAsTheEventStreamFormatSays() {
        #expect(ServerSentEvent(event: "token", data: #"{"id":1}"#).encoded == "event: token\ndata: {\"id\":1}\n\n")
        // Each line of data gets its own data: line; the client rejoins them with \n.
        #expect(ServerSentEvent(data: "a\nb\r\nc").encoded == "data: a\ndata: b\ndata: c\n\n")
    }
}

@Suite struct HTTPServerSettingsTests {
    @Test func theHTTPKeysReachTheServer() {
        var config = Configuration()
        config.host = "::"
        config.port = 9000
        config.maxConnections = 7
        config.maxHeaderBytes = 4096
        config.maxBodyBytes = 1000
        config.maxHeaderCount = 12
        config.headerTimeoutSeconds = 3
        config.bodyTimeoutSeconds = 4
        config.idleTimeoutSeconds = 5
        config.writeTimeoutSeconds = 6
        config.shutdownGraceSeconds = 2
        let http = config.httpServer
        #expect(http.host == "::" && http.port == 9000 && http.maxConnections == 7)
        #expect(http.limits.maxHeaderBytes == 4096 && http.limits.maxRequestLineBytes == 4096 && http.limits.maxBodyBytes == 1000 && http.limits.maxHeaderCount == 12)
        #expect(http.headerTimeout == 3 && http.bodyTimeout == 4 && http.idleTimeout == 5 && http.writeTimeout == 6 && http.shutdownGrace == 2)
    }
}
