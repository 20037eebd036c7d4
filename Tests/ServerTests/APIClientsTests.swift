import Foundation
import Testing
@testable import Engine
@testable import HTTPServer
@testable import Server
import TestSupport

/// The API as its users meet it: a Python client reading the event stream,
/// the `kvserve generate` command, and conversations under eviction.
extension GenerateOverHTTPTests {
    /// A client written against the SSE format alone (Python's http.client):
    /// it prints every event it read, as JSON.
    static let pythonClient = #"""
import http.client, json, sys
port, body = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
c.request("POST", "/v1/generate", body=body, headers={"Content-Type": "application/json"})
r = c.getresponse()
events, event, data = [], "message", []
for raw in r:
    line = raw.decode("utf-8").rstrip("\r\n")
    if line == "":
        if data:
            events.append({"event": event, "data": json.loads("\n".join(data))})
        event, data = "message", []
        if events and events[-1]["event"] == "done":
            break
    elif line.startswith(":"):
        continue
    elif line.startswith("event:"):
        event = line[6:].lstrip(" ")
    elif line.startswith("data:"):
        data.append(line[5:][1:] if line[5:].startswith(" ") else line[5:])
print(json.dumps({"status": r.status, "type": r.getheader("Content-Type"), "events": events}))
"""#

    struct PythonRead {
        let status: Int
        let contentType: String
        let tokens: [[String: Any]]
        let done: [[String: Any]]
        var text: String { tokens.map { $0["text"] as? String ?? "" }.joined() }
    }

    func pythonGenerate(_ body: String) throws -> PythonRead {
        let port = try Self.server.get().http.port
        let out = try run("/usr/bin/env", ["python3", "-c", Self.pythonClient, "\(port)", body])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "python printed \(out)")
        let events = object["events"] as? [[String: Any]] ?? []
        return PythonRead(status: object["status"] as? Int ?? 0, contentType: object["type"] as? String ?? "",
                          tokens: events.filter { $0["event"] as? String == "token" }.compactMap { $0["data"] as? [String: Any] },
                          done: events.filter { $0["event"] as? String == "done" }.compactMap { $0["data"] as? [String: Any] })
    }

    @Test func aPythonClientReadsAConversationFromTheEventStream() throws {
        let first = try pythonGenerate(#"{"messages":[{"role":"user","content":"Name three colours."}],"session_id":"python-1","max_tokens":20,"temperature":0,"ignore_eos":true}"#)
        #expect(first.status == 200 && first.contentType.hasPrefix("text/event-stream"))
        // Twenty token events numbered in order, then exactly one done event that repeats the text.
        #expect(first.tokens.map { $0["index"] as? Int } == (0..<20).map { $0 })
        #expect(first.done.count == 1)
        let done = try #require(first.done.first)
        #expect(done["text"] as? String == first.text && done["finish_reason"] as? String == "length")
        let usage = try #require(done["usage"] as? [String: Int])
        #expect(usage["completion_tokens"] == 20 && usage["cached_tokens"] == 0)

        // The follow-up finds the whole first turn resident but for its last
        // token, which was sampled and never run.
        let second = try pythonGenerate(#"{"messages":[{"role":"user","content":"And one more?"}],"session_id":"python-1","max_tokens":8,"temperature":0}"#)
        let secondUsage = try #require(second.done.first?["usage"] as? [String: Int])
        #expect(secondUsage["cached_tokens"] == usage["prompt_tokens"]! + 20 - 1)
        #expect(second.done.first?["session_id"] as? String == "python-1")
        #expect(second.tokens.count == secondUsage["completion_tokens"])
    }

    /// The `kvserve` executable built beside this test bundle.
    static var kvserveExecutable: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("kvserve").path
    }

    @Test(arguments: [false, true])
    func greedyRepliesThroughTheServerEqualKvserveGenerate(chat: Bool) throws {
        let prompt = "The three primary colours are"
        var arguments = ["generate", "--model", DefaultModel.path, "--prompt", prompt, "--max-tokens", "24",
                         "--temperature", "0", "--json"]
        if chat { arguments.append("--chat") }
        let cli = try run(Self.kvserveExecutable, arguments)
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(cli.utf8)) as? [String: Any], "\(cli)")
        let body = chat
            ? #"{"messages":[{"role":"user","content":"\#(prompt)"}],"max_tokens":24,"temperature":0,"stream":false}"#
            : #"{"prompt":"\#(prompt)","max_tokens":24,"temperature":0,"stream":false}"#
        let served = try #require(try JSONSerialization.jsonObject(with: Data(post(body).output.utf8)) as? [String: Any])
        #expect((expected["text"] as? String)?.isEmpty == false)
        #expect(served["text"] as? String == expected["text"] as? String)
        #expect(served["finish_reason"] as? String == expected["finish_reason"] as? String)
    }

    @Test func aDisconnectShowsInTheMetricsAsNothingRunningAndNoBlockHeld() throws {
        _ = try runCurl(["-sS", "-N", "--max-time", "0.5", "\(try url)/v1/generate", "-d",
                         #"{"prompt":"Far away","max_tokens":2000,"temperature":0,"ignore_eos":true}"#])
        #expect(eventually(2) { (try? metric("kvserve_running_sequences")) == 0 })
        #expect(try metric(#"kvserve_kv_blocks{state="used"}"#) == 0)
        #expect(try metric("kvserve_waiting_sequences") == 0)
    }

    /// Eight conversations of four turns at once, through HTTP: in a pool of
    /// 20 blocks (evictions and preemptions) every reply is the one a pool
    /// that keeps everything gives (the KV cache issue's test, end to end).
    @Test func conversationsUnderEvictionGetTheRepliesOfARoomyServer() throws {
        func serve(blocks: Int) throws -> APIServer {
            let c = Configuration.forTests(kvCacheBytes: blocks * 368_640)  // SmolLM2, f16, 16 positions a block
            return try APIServer(configuration: c)
        }
        let topics = ["the moon", "bread", "rivers", "chess", "bees", "trains", "owls", "maps"]
        let followUps = ["Why is that?", "Give me one example.", "Say it in one sentence."]
        func converse(_ server: APIServer) -> [[String]] {
            let replies = Mutex([[String]](repeating: [], count: topics.count))
            DispatchQueue.concurrentPerform(iterations: topics.count) { s in
                var turns: [String] = []
                for (t, question) in (["Tell me about \(topics[s])."] + followUps).enumerated() {
                    let system = t == 0 ? #"{"role":"system","content":"You answer briefly."},"# : ""
                    let body = #"{"messages":[\#(system){"role":"user","content":"\#(question)"}],"session_id":"evict-\#(s)","max_tokens":32,"temperature":0,"ignore_eos":true,"stream":false}"#
                    let out = (try? runCurl(["-sS", "http://127.0.0.1:\(server.http.port)/v1/generate", "-d", body]).output) ?? ""
                    let object = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
                    turns.append(object?["text"] as? String ?? "error: \(out)")
                }
                replies.withLock { $0[s] = turns }
            }
            return replies.withLock { $0 }
        }
        let roomy = try serve(blocks: 192), tight = try serve(blocks: 20)
        defer { roomy.http.shutdown(); tight.http.shutdown() }
        let expected = converse(roomy), underPressure = converse(tight)
        for s in topics.indices {
            #expect(underPressure[s] == expected[s], "session \(s)")
            #expect(expected[s].count == 4 && expected[s].allSatisfy { !$0.isEmpty && !$0.hasPrefix("error") }, "\(expected[s])")
        }
        let usage = tight.service.perform { $0.cache.usage }
        #expect(usage.evictions > 0 && usage.counters.preemptions > 0, "\(usage)")
        #expect(roomy.service.perform { $0.cache.usage.evictions } == 0)
    }

    func run(_ executable: String, _ arguments: [String]) throws -> String {
        try Subprocess.run(executable, arguments).output
    }
}
