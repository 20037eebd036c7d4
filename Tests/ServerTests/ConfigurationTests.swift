import Foundation
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
    @Test func shippedFileHoldsEveryKeyAndTheDefaults() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: defaultsFile))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == Set(Configuration.keyNames))
        // The defaults, the model's path taken relative to the file.
        var defaults = Configuration()
        defaults.model = repositoryRoot.appendingPathComponent(defaults.model).standardizedFileURL.path
        defaults.dataDir = repositoryRoot.appendingPathComponent(defaults.dataDir).standardizedFileURL.path
        #expect(try Configuration.load(file: defaultsFile, environment: [:]) == defaults)
    }

    /// The configuration table of docs/configuration.md lists every key
    /// with the shipped default and its variable.
    @Test func readmeTableAgreesWithTheShippedDefaults() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "\n## Configuration\n").dropFirst().first)
        var rows: [String: (defaultValue: String, variable: String)] = [:]
        for line in section.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`")) }
            rows[cells[0]] = (cells[1], cells[2])
        }
        #expect(Set(rows.keys) == Set(Configuration.keyNames))
        let data = try Data(contentsOf: URL(fileURLWithPath: defaultsFile))
        let shipped = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for (key, row) in rows {
            #expect(row.variable == "KVSERVE_" + key.uppercased(), "\(key)")
            let value = try #require(shipped[key], "\(key) is not in config/kvserve.json")
            let written = String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .withoutEscapingSlashes]), as: UTF8.self)
            #expect(row.defaultValue == written, "\(key): README says \(row.defaultValue), config/kvserve.json \(written)")
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
        #expect(try Configuration.load(file: nil, environment: ["KVSERVE_TEST_MODEL": "x", "OTHER_PORT": "1"]).port == 8080)
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
        #expect(throws: Configuration.Error(key: "kv_type", source: "command line", message: "'q8' is not one of f16, f32")) {
            try Configuration.load(file: nil, environment: [:], overrides: ["kv_type": "q8"])
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
