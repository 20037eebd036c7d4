import Foundation
import Testing
@testable import Server
import TestSupport

/// The disk tier through real HTTP and real `kvserve serve` processes:
/// conversations killed with SIGKILL under load come back from disk, and a
/// tier file that is corrupted, or a disk that fills, costs recomputation,
/// never a wrong reply or the server.
@Suite(.serialized, .enabled(if: DefaultModel.testsEnabled, Comment(rawValue: DefaultModel.missingNote)))
struct DiskTierServerTests {
    typealias ServerProcess = DurableSessionsTests.ServerProcess

    let questions = ["Tell me about %@.", "Why is that?", "Give me one example."]
    let topics = ["owls", "rivers", "bread", "comets", "violins", "glaciers", "bees", "lighthouses"]

    func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-tier-\(UUID().uuidString)").path
    }

    func question(_ t: Int, _ s: Int) -> String { questions[t].replacingOccurrences(of: "%@", with: topics[s]) }

    func turn(_ port: Int, _ s: Int, _ t: Int, maxTokens: Int = 24) throws -> [String: Any] {
        try DurableSessionsTests.turn(port, session: "c\(s)", question(t, s), first: t == 0, maxTokens: maxTokens)
    }

    /// Every conversation's replies from a server that is never interrupted.
    func uninterrupted(sessions: Int, turns: Int) throws -> [[String]] {
        let reference = try APIServer(configuration: Configuration.forTests(kvCacheBytes: 64 << 20))
        defer { reference.shutdown() }
        return try (0..<sessions).map { s in try (0..<turns).map { t in try turn(reference.http.port, s, t)["text"] as? String ?? "?" } }
    }

    static func metric(_ port: Int, _ name: String) throws -> Double {
        let text = try Subprocess.run("/usr/bin/curl", ["-sS", "http://127.0.0.1:\(port)/metrics"]).output
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last!) } ?? -1
    }

    /// Runs `body` for every session at once.
    func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
        let failures = NSLock(), errors = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: count) { s in
            do { try body(s) } catch { failures.withLock { errors.items.append("\(error)") } }
        }
        #expect(errors.items.isEmpty, "\(errors.items)")
    }

    final class ErrorBox: @unchecked Sendable { var items: [String] = [] }

    @Test func afterSIGKILLUnderEightConversationsEveryFollowUpReadsItsHistoryBack() throws {
        let expected = try uninterrupted(sessions: 8, turns: 3)
        let dataDir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        // A RAM pool of 16 MiB (45 blocks) for eight conversations: histories go to disk and come back.
        let settings = ["kv_cache_bytes=16777216", "kv_disk_bytes=268435456"]
        let first = try ServerProcess(dataDir: dataDir, settings: settings)
        let firstPort = first.port
        try concurrently(8) { s in
            for t in 0..<2 {
                let reply = try turn(firstPort, s, t)
                #expect(reply["text"] as? String == expected[s][t], "conversation \(s) turn \(t): \(reply)")
            }
        }
        var before: [Int] = []
        for s in 0..<8 { before.append(try #require(try DurableSessionsTests.session(first.port, "c\(s)"))["tokens"] as! Int) }
        // Eight third turns are running when the process is killed (each
        // would take tens of seconds: 400 tokens, end-of-sequence ignored).
        for s in 0..<8 {
            let body = #"{"prompt":"Count to a thousand.","session_id":"c\#(s)","max_tokens":400,"ignore_eos":true,"temperature":0}"#
            DispatchQueue.global().async {
                _ = try? Subprocess.run("/usr/bin/curl", ["-sS", "http://127.0.0.1:\(firstPort)/v1/generate", "-d", body])
            }
        }
        // Killed as soon as one runs: the 45 blocks hold only one or two of
        // them at a time, and the first admitted must not finish its 400
        // tokens before the kill (one sequence alone decodes ~200 tokens/s
        // here, so that takes 2 s).
        let deadline = Date().addingTimeInterval(10)
        while try Self.metric(first.port, "kvserve_running_sequences") < 1, Date() < deadline { usleep(10_000) }
        usleep(200_000)
        first.kill()

        let second = try ServerProcess(dataDir: dataDir, settings: settings)
        defer { second.kill() }
        for s in 0..<8 {
            let after = try #require(try DurableSessionsTests.session(second.port, "c\(s)"), "conversation \(s) did not survive")
            #expect(after["turns"] as? Int == 2 && after["tokens"] as? Int == before[s], "conversation \(s): \(after)")
        }
        let results = ResultBox()
        let secondPort = second.port
        try concurrently(8) { s in
            let reply = try turn(secondPort, s, 2)
            results.lock.withLock { results.replies[s] = reply }
        }
        for s in 0..<8 {
            let reply = try #require(results.replies[s])
            #expect(reply["text"] as? String == expected[s][2], "conversation \(s): \(reply)")
            let usage = try #require(reply["usage"] as? [String: Any])
            let cached = usage["cached_tokens"] as? Int ?? -1, fromDisk = usage["cached_tokens_disk"] as? Int ?? -1
            // Nothing survives in RAM: the history comes from disk, all but its partial last block.
            #expect(cached >= before[s] - 16 && fromDisk >= before[s] - 16, "conversation \(s): history \(before[s]), usage \(usage)")
        }
        #expect(try Self.metric(second.port, "kvserve_kv_disk_hit_tokens_total") > 0)
        #expect(try Self.metric(second.port, "kvserve_kv_disk_read_failures_total") == 0)
    }

    final class ResultBox: @unchecked Sendable {
        let lock = NSLock()
        var replies: [Int: [String: Any]] = [:]
    }

    @Test func aCorruptedBlockIsRecomputedNeverServed() throws {
        let expected = try uninterrupted(sessions: 1, turns: 3)
        let dataDir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let settings = ["kv_disk_bytes=67108864"]
        let first = try ServerProcess(dataDir: dataDir, settings: settings)
        for t in 0..<2 { #expect(try turn(first.port, 0, t)["text"] as? String == expected[0][t]) }
        first.kill()
        // Flip a byte in the K/V bytes of every stored block (past each slot's header page).
        let path = (dataDir as NSString).appendingPathComponent("kv-blocks.kvtier")
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        let size = try handle.seekToEnd()
        let slot: UInt64 = 4096 + 368_640
        var offset: UInt64 = 4096 + 4096 + 1000, flipped = 0
        while offset < size {
            try handle.seek(toOffset: offset)
            let byte = try #require(try handle.read(upToCount: 1)?.first)
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: [byte ^ 0x40])
            flipped += 1
            offset += slot
        }
        try handle.close()
        #expect(flipped >= 2)

        let second = try ServerProcess(dataDir: dataDir, settings: settings)
        let reply = try turn(second.port, 0, 2)
        #expect(reply["text"] as? String == expected[0][2], "\(reply)")
        let usage = try #require(reply["usage"] as? [String: Any])
        #expect(usage["cached_tokens_disk"] as? Int == 0, "\(usage)")
        #expect(try Self.metric(second.port, "kvserve_kv_disk_read_failures_total") >= 1)
        second.kill()
        // The bad slots were dropped and the recomputed blocks written again: after another
        // restart the history comes back from disk.
        let third = try ServerProcess(dataDir: dataDir, settings: settings)
        defer { third.kill() }
        let again = try DurableSessionsTests.turn(third.port, session: "c0", "And one more?", first: false)
        let disk = try #require(again["usage"] as? [String: Any])["cached_tokens_disk"] as? Int ?? 0
        // (Slots past the first bad one of a read are checked only when read:
        // some may fail here too and be recomputed.)
        #expect(disk > 0, "\(again)")
    }

    @Test func aFullDiskCostsRecomputationNotRepliesNorTheServer() throws {
        let expected = try uninterrupted(sessions: 2, turns: 3)
        let dataDir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        // No file may grow past 2 MiB: the tier file fills after a few blocks.
        let server = try ServerProcess(dataDir: dataDir, settings: ["session_store=memory", "kv_cache_bytes=4194304"],
                                       fileSizeLimitKiB: 2048)
        defer { server.kill() }
        for s in 0..<2 {
            for t in 0..<3 {
                #expect(try turn(server.port, s, t)["text"] as? String == expected[s][t], "conversation \(s) turn \(t)")
            }
        }
        #expect(server.isRunning)
        #expect(try Self.metric(server.port, "kvserve_kv_disk_write_failures_total") > 0)
        #expect(try Self.metric(server.port, "kvserve_kv_disk_blocks") > 0)
    }

    /// OpenAI's usage splits `cached_tokens` by tier: a chat request whose
    /// prefix another request pushed out of RAM finds it on disk.
    @Test func openAIUsageSaysWhichTierTheCachedTokensCameFrom() throws {
        let dataDir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        var c = Configuration.forTests(kvCacheBytes: 16 << 20)  // 45 blocks of 16 positions
        c.dataDir = dataDir
        c.kvDiskBytes = 64 << 20
        let server = try APIServer(configuration: c)
        defer { server.shutdown() }
        func chat(_ content: String) throws -> [String: Any] {
            let body = #"{"messages":[{"role":"user","content":"\#(content)"}],"max_tokens":1,"temperature":0}"#
            let out = try Subprocess.run("/usr/bin/curl", ["-sS", "http://127.0.0.1:\(server.http.port)/v1/chat/completions", "-d", body]).output
            return try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
        }
        func details(_ reply: [String: Any]) throws -> [String: Int] {
            let usage = try #require(reply["usage"] as? [String: Any])
            return try #require(usage["prompt_tokens_details"] as? [String: Int], "\(usage)")
        }
        let question = (0..<12).map { "Line \($0): the heron waits by the river at dawn." }.joined(separator: " ")
        let first = try details(try chat(question))
        #expect(first == ["cached_tokens": 0, "cached_tokens_ram": 0, "cached_tokens_disk": 0])
        // Resident: the same question finds its full blocks in RAM.
        let again = try details(try chat(question))
        #expect(again["cached_tokens"]! > 100 && again["cached_tokens_ram"] == again["cached_tokens"] && again["cached_tokens_disk"] == 0, "\(again)")
        // Another request evicts most blocks (the ends of chains first): the
        // question's tail comes back from disk, its head is still in RAM.
        _ = try chat(String(repeating: "All work and no play makes a dull model. ", count: 60))
        let fromDisk = try details(try chat(question))
        #expect(fromDisk["cached_tokens"] == again["cached_tokens"], "\(fromDisk)")
        #expect(fromDisk["cached_tokens_disk"]! >= 32 && fromDisk["cached_tokens_ram"]! > 0, "\(fromDisk)")
        #expect(fromDisk["cached_tokens_ram"]! + fromDisk["cached_tokens_disk"]! == fromDisk["cached_tokens"]!)
    }

    @Test func anUnusableTierPathIsRefusedAtStartUpNamingIt() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-not-a-dir-\(UUID().uuidString)").path
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try Subprocess.run(GenerateOverHTTPTests.kvserveExecutable,
                                        ["serve", "--model", DefaultModel.path, "--port", "0", "--set", "session_store=memory",
                                         "--set", "kv_disk_path=\(file)/tier"], includeErrors: true)
        #expect(result.status != 0 && result.output.contains("kv_disk_path '\(file)/tier'"), "\(result.output)")
    }
}
