import Foundation
import Testing
@testable import Engine
@testable import HTTPServer
import Model
import TestSupport
@testable import Server

/// The API through real HTTP on loopback, on the real model.
@Suite(.serialized, .enabled(if: DefaultModel.testsEnabled, Comment(rawValue: DefaultModel.missingNote)))
struct GenerateOverHTTPTests {
    static let server: Result<APIServer, Error> = Result {
        let c = Configuration.forTests(kvCacheBytes: 64 << 20)
        return try APIServer(configuration: c)
    }

    var url: String { get throws { "http://127.0.0.1:\(try Self.server.get().http.port)" } }

    func post(_ body: String) throws -> (status: Int32, output: String) {
        let r = try runCurl(["-sS", "-N", "\(try url)/v1/generate", "-d", body])
        return (r.status, r.output)
    }

    /// The `done` payload of an SSE answer, and the concatenated token texts.
    func events(_ sse: String) -> (done: [String: Any], tokens: String) {
        var done: [String: Any] = [:], tokens = ""
        for block in sse.components(separatedBy: "\n\n") where !block.isEmpty {
            let lines = block.split(separator: "\n")
            guard lines.count == 2, let data = lines[1].dropFirst(6).data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { continue }
            if lines[0] == "event: done" { done = object } else { tokens += object["text"] as? String ?? "" }
        }
        return (done, tokens)
    }

    @Test func aStreamedGreedyReplyEqualsTheEngineRunDirectly() throws {
        let server = try Self.server.get()
        let (_, output) = try post(#"{"prompt":"The capital of France is","max_tokens":24,"temperature":0,"ignore_eos":true}"#)
        let (done, tokens) = events(output)
        #expect(done["finish_reason"] as? String == "length")
        #expect(done["text"] as? String == tokens)
        // The same request straight to the engine, bypassing HTTP.
        let prompt = server.model.tokenizer.encode("The capital of France is", addSpecial: true)
        let direct = server.service.perform { engine in
            var request = GenerationRequest(prompt: prompt, maxTokens: 24, sampling: .greedy, ignoreEOS: true)
            request.sessionID = nil
            let id = try! engine.submit(request)
            while true {
                for case let .finished(finished, completion) in engine.step() where finished == id { return completion.tokens }
            }
        }
        #expect(tokens == server.model.tokenizer.decode(direct, special: false))
    }

    @Test func sixteenConcurrentStreamsGiveTheirSoloReplies() throws {
        let bodies = (0..<16).map {
            #"{"prompt":"Question \#($0): what is \#($0) plus \#($0)?","max_tokens":16,"temperature":0,"stream":false,"ignore_eos":true}"#
        }
        let solo = try bodies.map { try post($0).output }
        let together = Mutex([String](repeating: "", count: 16))
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let out = (try? post(bodies[i]).output) ?? ""
            together.withLock { $0[i] = out }
        }
        func text(_ json: String) -> String? {
            (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["text"] as? String
        }
        let concurrent = together.withLock { $0 }
        for i in 0..<16 {
            #expect(text(concurrent[i]) != nil && text(concurrent[i]) == text(solo[i]), "prompt \(i)")
        }
    }

    @Test func aClientThatDisconnectsFreesItsSequence() throws {
        let server = try Self.server.get()
        // curl gives up after 0.5 s of a 2000-token reply.
        _ = try runCurl(["-sS", "-N", "--max-time", "0.5", "\(try url)/v1/generate", "-d",
                         #"{"prompt":"Once upon a time","max_tokens":2000,"temperature":0,"ignore_eos":true}"#])
        #expect(eventually(2) { server.service.perform { $0.runningCount == 0 && $0.waitingCount == 0 } })
        #expect(server.service.perform { $0.cache.pool.usedCount } == 0)
    }

    /// A metric's value in the Prometheus text.
    func metric(_ name: String) throws -> Double? {
        let text = try runCurl(["-sS", "\(try url)/metrics"]).output
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }

    @Test func metricsCountWhatARequestDid() throws {
        let generatedBefore = try metric("kvserve_generated_tokens_total") ?? 0
        let ok = #"kvserve_requests_total{route="/v1/generate",status="200"}"#
        let okBefore = try metric(ok) ?? 0
        _ = try post(#"{"prompt":"Count to ten:","max_tokens":7,"temperature":0,"ignore_eos":true,"stream":false}"#)
        #expect(try metric("kvserve_generated_tokens_total") == generatedBefore + 7)
        #expect(try metric(ok) == okBefore + 1)
        // Refused requests are counted too, by the route they reached and their status.
        let large = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-large-\(UUID().uuidString)")
        try Data(count: 2 << 20).write(to: large)
        defer { try? FileManager.default.removeItem(at: large) }
        let refusals = [(#"{route="/v1/generate",status="400"}"#, ["\(try url)/v1/generate", "-d", "{}"]),
                        (#"{route="unmatched",status="404"}"#, ["\(try url)/nowhere"]),
                        (#"{route="unmatched",status="405"}"#, ["-X", "PUT", "\(try url)/v1/generate"]),
                        (#"{route="-",status="413"}"#, ["\(try url)/v1/generate", "--data-binary", "@\(large.path)"])]
        for (labels, arguments) in refusals {
            let before = try metric("kvserve_requests_total" + labels) ?? 0
            _ = try runCurl(["-sS"] + arguments)
            #expect(try metric("kvserve_requests_total" + labels) == before + 1, "\(labels)")
        }
        let text = try runCurl(["-sS", "\(try url)/metrics"]).output
        #expect(text.contains("# HELP kvserve_requests_total ") && text.contains("# HELP kvserve_time_to_first_token_seconds "))
        #expect(text.contains(#"kvserve_time_to_first_token_seconds_bucket{le="600.0"}"#))
        #expect(try (metric(#"kvserve_request_duration_seconds_count{route="/v1/generate"}"#) ?? 0) >= 2)
        #expect(try metric("kvserve_running_sequences") == 0)
        #expect(try metric(#"kvserve_kv_blocks{state="total"}"#) == Double(try Self.server.get().service.perform { $0.cache.pool.blockCount }))
        #expect(try (metric("kvserve_time_to_first_token_seconds_count") ?? 0) >= 1)
    }

    @Test func badRequestsGetClearErrors() throws {
        let r = try runCurl(["-sS", "-w", "%{http_code}", "\(try url)/v1/generate", "-d", #"{"prompt":"a","max_tokens":0}"#])
        #expect(r.output.hasSuffix("400") && r.output.contains("max_tokens must be between 1 and 8192"))
        let long = try runCurl(["-sS", "-w", "%{http_code}", "\(try url)/v1/generate", "-d", #"{"prompt":"a","max_tokens":8192}"#])
        #expect(long.output.hasSuffix("422") && long.output.contains("\"type\":\"context_overflow\""))
    }

    func runCurl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try Subprocess.run("/usr/bin/curl", arguments, includeErrors: false)
    }

    func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end { if condition() { return true }; usleep(20_000) }
        return condition()
    }
}
