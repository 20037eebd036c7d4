import Foundation
import Testing
@testable import HTTPServer
@testable import Server
import TestSupport

/// Sessions survive a crash: a `kvserve serve` process killed with SIGKILL
/// (mid-turn, too) and started again on the same data directory has every
/// completed turn, not the cut one, and goes on with the replies of a run
/// that was never interrupted.
@Suite(.serialized, .enabled(if: DefaultModel.testsEnabled, Comment(rawValue: DefaultModel.missingNote)))
struct DurableSessionsTests {
    /// A `kvserve serve` child process and the port it reported.
    final class ServerProcess {
        let process = Process()
        private(set) var port = 0

        /// `settings`: more `key=value` settings; `fileSizeLimitKiB`: the
        /// largest file the process may write (`ulimit -f`), as a full disk.
        init(dataDir: String, settings: [String] = [], fileSizeLimitKiB: Int? = nil) throws {
            let arguments = ["serve", "--model", DefaultModel.path, "--port", "0", "--set", "data_dir=\(dataDir)",
                             "--set", "kv_cache_bytes=67108864"] + settings.flatMap { ["--set", $0] }
            if let limit = fileSizeLimitKiB {
                process.executableURL = URL(fileURLWithPath: "/bin/sh")
                process.arguments = ["-c", "ulimit -f \(limit) && exec \"$0\" \"$@\"", GenerateOverHTTPTests.kvserveExecutable] + arguments
            } else {
                process.executableURL = URL(fileURLWithPath: GenerateOverHTTPTests.kvserveExecutable)
                process.arguments = arguments
            }
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            // "kvserve: listening on http://127.0.0.1:PORT"
            var seen = ""
            let handle = errors.fileHandleForReading
            while port == 0 {
                let chunk = handle.availableData
                guard !chunk.isEmpty else { throw Failure(message: "kvserve exited before listening: \(seen)") }
                seen += String(decoding: chunk, as: UTF8.self)
                if let range = seen.range(of: "listening on http://127.0.0.1:") {
                    port = Int(seen[range.upperBound...].prefix { $0.isNumber }) ?? 0
                }
            }
            DispatchQueue.global().async { while !handle.availableData.isEmpty {} }  // keep the pipe drained
        }

        func kill() {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        var isRunning: Bool { process.isRunning }

        struct Failure: Error { let message: String }
    }

    static func turn(_ port: Int, session: String, _ question: String, first: Bool, stream: Bool = false,
                     maxTokens: Int = 16) throws -> [String: Any] {
        let system = first ? #"{"role":"system","content":"You answer briefly."},"# : ""
        let body = #"{"messages":[\#(system){"role":"user","content":"\#(question)"}],"session_id":"\#(session)","max_tokens":\#(maxTokens),"temperature":0,"stream":false}"#
        let out = try Subprocess.run("/usr/bin/curl", ["-sS", "http://127.0.0.1:\(port)/v1/generate", "-d", body]).output
        return (try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]) ?? ["error": out]
    }

    static func session(_ port: Int, _ id: String) throws -> [String: Any]? {
        let out = try Subprocess.run("/usr/bin/curl", ["-sS", "http://127.0.0.1:\(port)/v1/sessions/\(id)"]).output
        guard let object = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], object["turns"] != nil else { return nil }
        return object
    }

    let questions = ["Tell me about owls.", "Why is that?", "Give me one example."]

    @Test func completedTurnsSurviveSIGKILLAndTheConversationGoesOnUnchanged() throws {
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-data-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDir) }

        // The run that is never interrupted, in this process, keeping nothing on disk.
        let c = Configuration.forTests(kvCacheBytes: 64 << 20)
        let reference = try APIServer(configuration: c)
        let expected = try questions.enumerated().map { t, q in
            try Self.turn(reference.http.port, session: "owls", q, first: t == 0)["text"] as? String
        }

        let first = try ServerProcess(dataDir: dataDir)
        for (t, q) in questions.prefix(2).enumerated() {
            #expect(try Self.turn(first.port, session: "owls", q, first: t == 0)["text"] as? String == expected[t])
        }
        let before = try #require(try Self.session(first.port, "owls"))
        // A third turn is running (and its client waiting) when the process is killed.
        let cut = DispatchQueue.global()
        let port = first.port
        cut.async { _ = try? Self.turn(port, session: "owls", "Count to a thousand.", first: false, maxTokens: 2000) }
        let deadline = Date().addingTimeInterval(5)
        while (try? Self.session(first.port, "owls")?["busy"] as? Bool) != true && Date() < deadline { usleep(20_000) }
        first.kill()

        let second = try ServerProcess(dataDir: dataDir)
        defer { second.kill() }
        let after = try #require(try Self.session(second.port, "owls"), "the session did not survive")
        #expect(after["turns"] as? Int == 2 && after["tokens"] as? Int == before["tokens"] as? Int)
        // The conversation goes on as if nothing had happened.
        #expect(try Self.turn(second.port, session: "owls", questions[2], first: false)["text"] as? String == expected[2])
        #expect(try Self.session(second.port, "owls")?["turns"] as? Int == 3)
    }

    @Test func anUnwritableDataDirectoryIsRefusedAtStartUp() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-not-a-dir-\(UUID().uuidString)").path
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try Subprocess.run(GenerateOverHTTPTests.kvserveExecutable,
                                        ["serve", "--model", DefaultModel.path, "--port", "0", "--set", "data_dir=\(file)/sub"],
                                        includeErrors: true)
        #expect(result.status != 0 && result.output.contains("data_dir '\(file)/sub'"), "\(result.output)")
    }
}
