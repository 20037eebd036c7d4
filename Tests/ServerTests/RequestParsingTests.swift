import Foundation
import JSONTree
import Testing
@testable import Server
import TestSupport

/// A request body is parsed once, whatever it holds, and configuration
/// values reach the server as written.
@Suite(.serialized, .enabled(if: DefaultModel.testsEnabled, Comment(rawValue: DefaultModel.missingNote)))
struct RequestParsingTests {
    static func documentsParsed(_ port: Int) throws -> Int {
        let text = try Subprocess.run("/usr/bin/curl", ["-sS", "http://127.0.0.1:\(port)/metrics"]).output
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("kvserve_json_documents_parsed_total ") })
        return try #require(Int(line.split(separator: " ")[1]))
    }

    /// A chat request with tools and a schema: one parse from the socket to
    /// the reply (counted by the process that served it, alone).
    @Test func aChatRequestWithToolsAndASchemaIsParsedOnce() throws {
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-parse-\(UUID().uuidString)").path
        let server = try DurableSessionsTests.ServerProcess(dataDir: dataDir, settings: ["session_store=memory", "kv_disk_bytes=0"])
        defer { server.kill() }
        let body: JSON = [
            "messages": [["role": "user", "content": "Give me a city and its country."]],
            "tools": [["type": "function", "function": ["name": "get_weather", "description": "The weather in a city.",
                                                        "parameters": ["type": "object", "properties": ["city": ["type": "string"]]]]]],
            "tool_choice": "none",
            "response_format": ["type": "json_schema", "json_schema": ["name": "place", "schema": [
                "type": "object", "properties": ["city": ["type": "string"], "country": ["type": "string"]],
                "required": ["city", "country"]]]],
            "max_tokens": 40, "temperature": 0, "session_id": "parse-once",
        ]
        let before = try Self.documentsParsed(server.port)
        let out = try Subprocess.run("/usr/bin/curl", ["-sS", "http://127.0.0.1:\(server.port)/v1/chat/completions",
                                                       "-H", "Content-Type: application/json", "-d", body.serialized]).output
        let reply = try JSON.parse(out)
        let content = try #require(reply["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue, "\(out)")
        // The schema held: the reply is an object with both members.
        let place = try JSON.parse(content)
        #expect(place["city"]?.stringValue != nil && place["country"]?.stringValue != nil, "\(content)")
        #expect(try Self.documentsParsed(server.port) - before == 1)
    }

    /// A configuration file naming a PostgreSQL store makes the server use
    /// PostgreSQL (not a SQLite file of that name): here an unreachable
    /// one, the documented way — the server starts, session turns get 503
    /// `store_unavailable`, stateless requests are served.
    @Test func aFileNamingPostgresUsesPostgres() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-conf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("kvserve.json").path
        let settings: JSON = ["model": JSON(DefaultModel.path), "port": 0, "kv_cache_bytes": 67108864, "kv_disk_bytes": 0,
                              "data_dir": JSON(directory.appendingPathComponent("data").path),
                              "session_store": "postgres://kv:kv@127.0.0.1:1/kv?sslmode=disable", "replica_name": "r/1"]
        try settings.serialized.write(toFile: file, atomically: true, encoding: .utf8)
        let configuration = try Configuration.load(file: file, environment: [:])
        #expect(configuration.sessionStore == "postgres://kv:kv@127.0.0.1:1/kv?sslmode=disable")
        let server = try APIServer(configuration: configuration)
        defer { server.shutdown() }
        let port = server.http.port
        let session = try Subprocess.run("/usr/bin/curl", ["-sS", "-i", "http://127.0.0.1:\(port)/v1/generate", "-d",
                                                           #"{"prompt":"Hi","session_id":"s","max_tokens":2,"stream":false}"#]).output
        #expect(session.hasPrefix("HTTP/1.1 503"), "\(session)")
        #expect(session.contains("store_unavailable"), "\(session)")
        #expect(session.contains("X-Kvserve-Replica: r/1"), "\(session)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("postgres:").path))
        let stateless = try Subprocess.run("/usr/bin/curl", ["-sS", "-i", "http://127.0.0.1:\(port)/v1/generate", "-d",
                                                             #"{"prompt":"Hi","max_tokens":2,"stream":false}"#]).output
        #expect(stateless.hasPrefix("HTTP/1.1 200"), "\(stateless)")
    }
}
