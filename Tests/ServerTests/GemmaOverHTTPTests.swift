import Foundation
import Testing
import Model
import TestSupport
@testable import Server

/// Gemma 3 (sliding-window layers) served over HTTP with a session: a
/// follow-up on a 2,000-token history computes only its new tokens, and
/// both replies equal a direct greedy pass over the same token ids.
@Suite(.serialized, .enabled(if: GemmaModel.testsEnabled, Comment(rawValue: GemmaModel.missingNote)))
struct GemmaOverHTTPTests {
    /// A long text of numbered, varied sentences (about 2,000 tokens), so
    /// the history is four times the 512-position window.
    static let longPrompt = (1...110).map { n in
        "Note \(n): the \(["red", "green", "blue", "amber", "violet"][n % 5]) lantern above door \(n * 7 % 31) was lit at \(n % 12 + 1) o'clock."
    }.joined(separator: " ")

    struct Turn {
        var ids: [TokenID] = []
        var usage: [String: Int] = [:]
    }

    func generate(_ port: Int, _ body: String) throws -> Turn {
        let r = try Subprocess.run("/usr/bin/curl", ["-sS", "-N", "http://127.0.0.1:\(port)/v1/generate", "-d", body])
        var turn = Turn()
        for block in r.output.components(separatedBy: "\n\n") where !block.isEmpty {
            let lines = block.split(separator: "\n")
            guard lines.count == 2, let object = try? JSONSerialization.jsonObject(with: Data(lines[1].dropFirst(6).utf8)) as? [String: Any]
            else { continue }
            if lines[0] == "event: done" {
                turn.usage = (object["usage"] as? [String: Any] ?? [:]).compactMapValues { $0 as? Int }
            } else if let id = object["id"] as? Int {
                turn.ids.append(TokenID(id))
            }
        }
        return turn
    }

    /// Greedy continuation of `prompt` by the model on a fresh cache: the
    /// truth a session's cached turn must reproduce.
    func directGreedy(_ model: DecoderModel, _ prompt: [TokenID], steps: Int) -> [TokenID] {
        let blockSize = 16, blocks = (prompt.count + steps) / blockSize + 1
        let table = (0..<blocks).map { Int32($0) }
        let cache = KVArena(hyperparameters: model.hyperparameters, elementType: .f16, blockSize: blockSize, blockCount: blocks)
        var logits = model.forward([ForwardSequence(tokens: prompt, startPosition: 0, blockTable: table)], cache: cache)[0]!
        var out: [TokenID] = []
        while out.count < steps {
            out.append(argmax(logits))
            guard out.count < steps else { break }
            logits = model.forward([ForwardSequence(tokens: [out.last!], startPosition: prompt.count + out.count - 1,
                                                    blockTable: table)], cache: cache)[0]!
        }
        return out
    }

    @Test func aFollowUpOnALongHistoryComputesOnlyItsNewTokens() throws {
        var c = Configuration.forTests(kvCacheBytes: 96 << 20)
        c.model = GemmaModel.path
        let server = try APIServer(configuration: c)
        defer {
            let done = DispatchSemaphore(value: 0)
            server.shutdown { done.signal() }
            done.wait()
        }
        let port = server.http.port
        let first = try generate(port, #"{"prompt":"\#(Self.longPrompt)","session_id":"g","max_tokens":8,"temperature":0,"ignore_eos":true}"#)
        let historyCount = first.usage["prompt_tokens"].map { $0 + 8 } ?? 0
        #expect(historyCount > 2000, "\(first.usage)")
        #expect(first.usage["cached_tokens"] == 0 && first.ids.count == 8)

        let second = try generate(port, #"{"prompt":" Which lantern was lit last?","session_id":"g","max_tokens":8,"temperature":0,"ignore_eos":true}"#)
        let newTokens = try #require(second.usage["prompt_tokens"])
        // Everything but the last reply token (sampled, never run) comes
        // from the cache, local layers included.
        #expect(second.usage["cached_tokens"] == historyCount - 1, "\(second.usage)")
        #expect(newTokens > 0 && newTokens < 16)

        let history = try #require(server.service.perform { $0.sessions["g"]?.tokens })
        #expect(history.count == historyCount + newTokens + 8)
        let model = try DecoderModel(file: ModelFile(path: GemmaModel.path))
        let firstPrompt = Array(history[..<(historyCount - 8)])
        #expect(directGreedy(model, firstPrompt, steps: 8) == first.ids)
        #expect(directGreedy(model, Array(history[..<(historyCount + newTokens)]), steps: 8) == second.ids)
    }
}
