import Foundation
import Testing
import TestSupport
@testable import Server

/// Speculation seen by a client, over real HTTP: a streamed greedy chat
/// reply, and one cut by a stop string, are the same text from a server
/// with `speculation: ngram` as from one without; the drafts show in
/// `usage` and `/metrics`.
@Suite(.serialized, .enabled(if: DefaultModel.testsEnabled, Comment(rawValue: DefaultModel.missingNote)))
struct SpeculationOverHTTPTests {
    static func server(_ speculation: String) -> Result<APIServer, Error> {
        Result {
            var c = Configuration.forTests(kvCacheBytes: 64 << 20)
            c.speculation = speculation
            return try APIServer(configuration: c)
        }
    }
    static let off = server("off"), ngram = server("ngram")

    static let quotation = "Repeat this paragraph word for word:\\n\\nRivers carry water from the mountains to the sea. "
        + "Along the way they shape valleys, feed farms and cities, and give homes to fish and birds."

    func post(_ server: Result<APIServer, Error>, _ path: String, _ body: String) throws -> String {
        let port = try server.get().http.port
        return try Subprocess.run("/usr/bin/curl", ["-sS", "-N", "http://127.0.0.1:\(port)\(path)", "-d", body]).output
    }

    /// The streamed reply's text, finish reason and usage.
    func streamed(_ server: Result<APIServer, Error>, stop: String? = nil) throws -> (text: String, finish: String?, usage: [String: Any]?) {
        let stopField = stop.map { #","stop":["\#($0)"]"# } ?? ""
        let body = #"{"messages":[{"role":"user","content":"\#(Self.quotation)"}],"max_tokens":80,"temperature":0,"stream":true,"#
            + #""stream_options":{"include_usage":true}\#(stopField)}"#
        var text = "", finish: String?, usage: [String: Any]?
        for line in try post(server, "/v1/chat/completions", body).split(separator: "\n") where line.hasPrefix("data: {") {
            let chunk = try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any])
            if let u = chunk["usage"] as? [String: Any] { usage = u }
            for choice in chunk["choices"] as? [[String: Any]] ?? [] {
                text += (choice["delta"] as? [String: Any])?["content"] as? String ?? ""
                if let reason = choice["finish_reason"] as? String { finish = reason }
            }
        }
        return (text, finish, usage)
    }

    @Test func aStreamedGreedyReplyIsTheSameWithDrafts() throws {
        let plain = try streamed(Self.off), drafted = try streamed(Self.ngram)
        #expect(drafted.text == plain.text)
        #expect(plain.text.contains("feed farms"), "the model no longer quotes: \(plain.text)")
        let details = try #require(drafted.usage?["completion_tokens_details"] as? [String: Any])
        let accepted = try #require(details["accepted_prediction_tokens"] as? Int)
        #expect(accepted > 0 && accepted < drafted.usage?["completion_tokens"] as? Int ?? 0)
        let port = try Self.ngram.get().http.port
        let metrics = try Subprocess.run("/usr/bin/curl", ["-sS", "http://127.0.0.1:\(port)/metrics"]).output
        #expect(metrics.contains("kvserve_spec_accepted_tokens_total") && !metrics.contains("kvserve_spec_accepted_tokens_total 0\n"))
    }

    /// A stop string inside a run of accepted draft tokens cuts the reply
    /// where it would have been cut token by token.
    @Test func aStopStringCutsADraftedReplyAtTheSamePlace() throws {
        let plain = try streamed(Self.off, stop: "feed farms"), drafted = try streamed(Self.ngram, stop: "feed farms")
        #expect(plain.finish == "stop" && !plain.text.contains("feed"), "\(plain.text)")
        #expect(drafted.text == plain.text && drafted.finish == "stop")
    }
}
