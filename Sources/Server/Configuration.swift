import Foundation
import JSONTree
import Storage

/// The server's settings. The defaults are the initial values below (and
/// nowhere else: config/kvserve.json names only the paths relative to it,
/// docs/configuration.md's table is checked against these); a JSON file,
/// then the environment variable `KVSERVE_<KEY>`, then a command-line flag
/// override them. Every value is validated at start-up, and an error names
/// the key and where the bad value came from.
public struct Configuration: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var model = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    public var kvCacheBytes = 512 << 20
    public var blockSize = 16
    /// How keys and values are cached: f16, f32, or q8_0 (about half f16's bytes).
    public var kvCacheType = "f16"
    public var maxSessions = 1024
    public var sessionTTLSeconds = 3600
    /// Longest session history, in tokens (the model's context caps it too).
    public var maxSessionTokens = 8192
    public var maxBatchSequences = 16
    public var maxPrefillTokensPerStep = 256
    public var maxWaiting = 64
    public var maxConnections = 256
    public var maxHeaderBytes = 16384
    public var maxHeaderCount = 100
    public var maxBodyBytes = 1 << 20
    public var headerTimeoutSeconds = 10
    public var bodyTimeoutSeconds = 30
    public var idleTimeoutSeconds = 60
    public var writeTimeoutSeconds = 30
    public var shutdownGraceSeconds = 8
    /// 0 = one per core.
    public var threads = 0
    /// Empty (and no `apiKeysFile`) = no authentication.
    public var apiKeys: [String] = []
    /// A file of API keys, one a line; "" = none.
    public var apiKeysFile = ""
    /// "tenant": each API key's prefix cache is its own; "all": shared.
    public var sharePrefixCache = "tenant"
    /// Stored responses (the Responses API) kept at most, and how long idle.
    public var maxStoredResponses = 1024
    public var responseTTLSeconds = 86400
    /// Where the server keeps its state (the session store by default).
    public var dataDir = "data"
    /// The durable session store: "" for `kvserve.sqlite` in `dataDir`, a
    /// path to a SQLite file, a `postgres://` URL (a store shared by
    /// replicas), or "memory" for none (nothing survives a restart).
    public var sessionStore = ""
    /// The disk tier's file: "" for `kv-blocks.kvtier` in `dataDir`.
    public var kvDiskPath = ""
    /// The disk tier's budget in bytes; 0 turns the tier off.
    public var kvDiskBytes = 4 << 30
    /// A Jinja chat template file used instead of the model's own
    /// `tokenizer.chat_template` (or for a model without one); "" = the model's.
    public var chatTemplate = ""
    /// Names this server in the `X-Kvserve-Replica` response header (which
    /// replica behind a proxy answered); the host name when empty.
    public var replicaName = ""
    /// The least severe log line written: `debug` adds a line per turn
    /// with its time to first token by stage.
    public var logLevel = "info"
    /// Reasoning tokens a reply may take before the engine closes its
    /// reasoning block, unless the request sets `max_reasoning_tokens`; -1: no limit.
    public var reasoningBudget = -1
    /// `ngram`: replies draft their continuation from their own tokens
    /// and check it in one pass, when their acceptance makes it pay (a
    /// greedy reply keeps its tokens; see SpeculationGate); `off`: one
    /// token per pass.
    public var speculation = "ngram"
    /// Whether a turn's conversation is prefilled as its next request will
    /// render it. Not a setting: tests and benchmarks turn it off
    /// (`KVSERVE_TEST_NO_FOLLOWUP_PREFILL=1`) to show what it saves.
    var prefillsFollowUps = true

    public init() {}

    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public let key: String
        public let source: String
        public let message: String
        public var description: String { "configuration key '\(key)' (from \(source)): \(message)" }
    }

    private enum Kind {
        /// Text taken as it is (a host, a name); `optional`: may be empty.
        case string(optional: Bool)
        case integer(ClosedRange<Int>, multipleOf: Int), stringList, choice([String])
        /// A file's path: relative to the configuration file that names it,
        /// or to the working directory when it comes from the environment or
        /// the command line.
        case path(optional: Bool)
        /// The session store: "", "memory", a `postgres://` or
        /// `postgresql://` URL (checked here, never taken for a path), or a
        /// SQLite file's path (resolved as `path` is).
        case store
    }

    private struct Key {
        let name: String
        let kind: Kind
        let path: WritableKeyPath<Configuration, String>?
        let intPath: WritableKeyPath<Configuration, Int>?
        let listPath: WritableKeyPath<Configuration, [String]>?

        static func string(_ name: String, _ path: WritableKeyPath<Configuration, String>, _ kind: Kind = .string(optional: false)) -> Key {
            Key(name: name, kind: kind, path: path, intPath: nil, listPath: nil)
        }
        static func int(_ name: String, _ path: WritableKeyPath<Configuration, Int>, _ range: ClosedRange<Int>,
                        multipleOf: Int = 1) -> Key {
            Key(name: name, kind: .integer(range, multipleOf: multipleOf), path: nil, intPath: path, listPath: nil)
        }
        static func list(_ name: String, _ path: WritableKeyPath<Configuration, [String]>) -> Key {
            Key(name: name, kind: .stringList, path: nil, intPath: nil, listPath: path)
        }
    }

    // Key paths are immutable values; the table is never mutated.
    nonisolated(unsafe) private static let keys: [Key] = [
        .string("host", \.host),
        .int("port", \.port, 0...65535),
        .string("model", \.model, .path(optional: false)),
        .int("kv_cache_bytes", \.kvCacheBytes, (1 << 20)...(1 << 40)),
        // The attention kernel scores 8 positions of a block at a time.
        .int("block_size", \.blockSize, 8...1024, multipleOf: 8),
        .string("kv_cache_type", \.kvCacheType, .choice(["f16", "q8_0", "f32"])),
        .int("max_sessions", \.maxSessions, 1...1_000_000),
        .int("session_ttl_seconds", \.sessionTTLSeconds, 1...(365 * 86400)),
        .int("max_session_tokens", \.maxSessionTokens, 16...(1 << 20)),
        .int("max_batch_sequences", \.maxBatchSequences, 1...1024),
        .int("max_prefill_tokens_per_step", \.maxPrefillTokensPerStep, 1...65536),
        .int("max_waiting", \.maxWaiting, 0...1_000_000),
        .int("max_connections", \.maxConnections, 1...100_000),
        .int("max_header_bytes", \.maxHeaderBytes, 1024...(1 << 20)),
        .int("max_header_count", \.maxHeaderCount, 1...10_000),
        .int("max_body_bytes", \.maxBodyBytes, 1...(1 << 30)),
        .int("header_timeout_seconds", \.headerTimeoutSeconds, 1...3600),
        .int("body_timeout_seconds", \.bodyTimeoutSeconds, 1...3600),
        .int("idle_timeout_seconds", \.idleTimeoutSeconds, 1...86400),
        .int("write_timeout_seconds", \.writeTimeoutSeconds, 1...3600),
        .int("shutdown_grace_seconds", \.shutdownGraceSeconds, 0...3600),
        .int("threads", \.threads, 0...1024),
        .list("api_keys", \.apiKeys),
        .string("api_keys_file", \.apiKeysFile, .path(optional: true)),
        .string("share_prefix_cache", \.sharePrefixCache, .choice(["tenant", "all"])),
        .int("max_stored_responses", \.maxStoredResponses, 0...1_000_000),
        .int("response_ttl_seconds", \.responseTTLSeconds, 1...(365 * 86400)),
        .string("data_dir", \.dataDir, .path(optional: false)),
        .string("session_store", \.sessionStore, .store),
        .string("kv_disk_path", \.kvDiskPath, .path(optional: true)),
        .int("kv_disk_bytes", \.kvDiskBytes, 0...(1 << 50)),
        .string("chat_template", \.chatTemplate, .path(optional: true)),
        .int("reasoning_budget", \.reasoningBudget, -1...Int(Int32.max)),
        .string("speculation", \.speculation, .choice(["ngram", "off"])),
        .string("replica_name", \.replicaName, .string(optional: true)),
        .string("log_level", \.logLevel, .choice(["trace", "debug", "info", "notice", "warning", "error", "critical"])),
    ]

    public static var keyNames: [String] { keys.map(\.name) }

    /// Whether a `session_store` value names a SQLite file (not "", "memory" or a URL).
    static func isStorePath(_ value: String) -> Bool {
        !value.isEmpty && value != "memory" && !value.hasPrefix("postgres://") && !value.hasPrefix("postgresql://")
    }

    /// A key's value as a configuration file writes it.
    public func value(of name: String) -> JSON? {
        guard let key = Self.keys.first(where: { $0.name == name }) else { return nil }
        if let path = key.path { return JSON(self[keyPath: path]) }
        if let path = key.intPath { return JSON(self[keyPath: path]) }
        return .array(self[keyPath: key.listPath!].map { JSON($0) })
    }

    /// `KVSERVE_TEST_*` variables belong to the tests and their scripts
    /// (where the models are, quick mode...), never to a server, which
    /// inherits them when a test starts one.
    static let testVariablePrefix = "KVSERVE_TEST_"

    /// Defaults, then the JSON file (if any), then `KVSERVE_*` variables,
    /// then `overrides` (command-line flags, by key name).
    public static func load(
        file: String?, environment: [String: String], overrides: [String: String] = [:]
    ) throws -> Configuration {
        var config = Configuration()
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw Error(key: "(file)", source: file, message: "cannot read the configuration file")
            }
            let object: JSON
            do { object = try JSON.parse(data) } catch {
                throw Error(key: "(file)", source: file, message: "not valid JSON: \(error)")
            }
            guard let members = object.objectValue else {
                throw Error(key: "(file)", source: file, message: "the top level must be a JSON object")
            }
            for (name, value) in members.sorted(by: { $0.key < $1.key }) {
                guard let key = keys.first(where: { $0.name == name }) else {
                    throw Error(key: name, source: file, message: "unknown key (known: \(keyNames.joined(separator: ", ")))")
                }
                try config.set(key, json: value, source: file)
            }
        }
        for key in keys {
            let variable = "KVSERVE_" + key.name.uppercased()
            if let value = environment[variable] { try config.set(key, text: value, source: variable) }
        }
        // A misspelt variable would otherwise be silently ignored.
        let known = Set(keys.map { "KVSERVE_" + $0.name.uppercased() })
        if let unknown = environment.keys.filter({ $0.hasPrefix("KVSERVE_") && !$0.hasPrefix(testVariablePrefix) && !known.contains($0) })
            .sorted().first {
            throw Error(key: unknown, source: "environment", message: "unknown variable (configuration keys are KVSERVE_ + a key in upper case: \(keyNames.map { "KVSERVE_" + $0.uppercased() }.joined(separator: ", ")))")
        }
        for (name, value) in overrides.sorted(by: { $0.key < $1.key }) {
            guard let key = keys.first(where: { $0.name == name }) else {
                throw Error(key: name, source: "command line", message: "unknown key")
            }
            try config.set(key, text: value, source: "command line")
        }
        // Benchmarks compare follow-ups with and without the idle prefill.
        if environment[testVariablePrefix + "NO_FOLLOWUP_PREFILL"] == "1" { config.prefillsFollowUps = false }
        return config
    }

    private mutating func set(_ key: Key, json value: JSON, source: String) throws {
        switch (key.kind, value) {
        case (.path, .string(let s)) where !s.isEmpty && !s.hasPrefix("/"),
             (.store, .string(let s)) where Self.isStorePath(s) && !s.hasPrefix("/"):
            // Relative to the file's directory, wherever kvserve was started.
            let directory = URL(fileURLWithPath: source).deletingLastPathComponent()
            try set(key, text: directory.appendingPathComponent(s).standardizedFileURL.path, source: source)
        case (.string, .string(let s)), (.choice, .string(let s)), (.path, .string(let s)), (.store, .string(let s)):
            try set(key, text: s, source: source)
        case (.integer, .number):
            guard let i = value.intValue else {
                throw Error(key: key.name, source: source, message: "must be an integer, not \(value.serialized)")
            }
            try set(key, text: String(i), source: source)
        case (.stringList, .array(let items)):
            self[keyPath: key.listPath!] = try items.map {
                guard case let .string(s) = $0 else {
                    throw Error(key: key.name, source: source, message: "must be an array of strings")
                }
                return s
            }
        case (.integer, _):
            throw Error(key: key.name, source: source, message: "must be an integer, not \(value.kindName)")
        case (.stringList, _):
            throw Error(key: key.name, source: source, message: "must be an array of strings, not \(value.kindName)")
        default:
            throw Error(key: key.name, source: source, message: "must be a string, not \(value.kindName)")
        }
    }

    private mutating func set(_ key: Key, text: String, source: String) throws {
        switch key.kind {
        case .string(optional: false), .path(optional: false):
            guard !text.isEmpty else { throw Error(key: key.name, source: source, message: "must not be empty") }
            self[keyPath: key.path!] = text
        case .string(optional: true), .path(optional: true):
            self[keyPath: key.path!] = text
        case .store:
            if !Self.isStorePath(text) && text != "memory" && !text.isEmpty {
                do { _ = try PostgresLocation(url: text) } catch {
                    throw Error(key: key.name, source: source, message: error.description)
                }
            }
            self[keyPath: key.path!] = text
        case let .choice(options):
            guard options.contains(text) else {
                throw Error(key: key.name, source: source, message: "'\(text)' is not one of \(options.joined(separator: ", "))")
            }
            self[keyPath: key.path!] = text
        case let .integer(range, multiple):
            guard let i = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw Error(key: key.name, source: source, message: "'\(text)' is not an integer")
            }
            guard range.contains(i) else {
                throw Error(key: key.name, source: source, message: "\(i) is outside \(range.lowerBound)...\(range.upperBound)")
            }
            guard i % multiple == 0 else {
                throw Error(key: key.name, source: source, message: "\(i) is not a multiple of \(multiple)")
            }
            self[keyPath: key.intPath!] = i
        case .stringList:
            self[keyPath: key.listPath!] = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }
}
