import Foundation
import Testing
@testable import Engine
import Model
import TestSupport
@testable import Server

/// A request's `seed` and sampling fields reach the sampler unchanged, over
/// real HTTP on loopback: the native `/v1/generate` and OpenAI chat
/// completions. Equal seeds give equal replies, different seeds different
/// ones, and the reply to seed S is the engine's own reply to the same
/// prompt ids with seed S and the same parameters.
@Suite(.serialized, .enabled(if: DefaultModel.testsEnabled, Comment(rawValue: DefaultModel.missingNote)))
struct SeedOverHTTPTests {
    static let server: Result<APIServer, Error> = Result {
        try APIServer(configuration: Configuration.forTests(kvCacheBytes: 64 << 20))
    }

    static let length = 24
    static let prompt = "Once upon a time, in a small village,"

    /// Parameters away from every default, so that a field that does not
    /// arrive changes the reply (see `everyFieldChangesTheReply`).
    static func sampling(seed: UInt64, openAI: Bool = false) -> SamplingParameters {
        var p = SamplingParameters()
        p.temperature = 1.3
        p.topK = 50
        p.topP = 0.9
        p.minP = 0.02
        p.repeatPenalty = 1.2
        if openAI {
            p.presencePenalty = 0.4
            p.frequencyPenalty = 0.3
        }
        p.seed = seed
        return p
    }

    static let nativeFields = #""temperature":1.3,"top_k":50,"top_p":0.9,"min_p":0.02,"repeat_penalty":1.2"#
    static let openAIFields = nativeFields + #","presence_penalty":0.4,"frequency_penalty":0.3"#

    func post(_ path: String, _ body: String) throws -> String {
        let port = try Self.server.get().http.port
        return try Subprocess.run("/usr/bin/curl", ["-sS", "-N", "http://127.0.0.1:\(port)\(path)", "-d", body]).output
    }

    /// The token ids of a native SSE answer.
    func nativeIDs(seed: Int) throws -> [TokenID] {
        let sse = try post("/v1/generate", #"{"prompt":"\#(Self.prompt)","max_tokens":\#(Self.length),"ignore_eos":true,"seed":\#(seed),\#(Self.nativeFields)}"#)
        return sse.components(separatedBy: "\n\n").compactMap { block -> TokenID? in
            let lines = block.split(separator: "\n")
            guard lines.count == 2, lines[0] == "event: token",
                  let object = try? JSONSerialization.jsonObject(with: Data(lines[1].dropFirst(6).utf8)) as? [String: Any] else { return nil }
            return (object["id"] as? Int).map { TokenID($0) }
        }
    }

    static let chatMessages = [ChatMessage(role: "user", content: "Tell me a short story about a fox.")]

    /// The text of a (non-streamed) chat completion.
    func chatText(seed: Int) throws -> String? {
        let body = #"{"messages":[{"role":"user","content":"\#(Self.chatMessages[0].content)"}],"max_tokens":\#(Self.length),"ignore_eos":true,"seed":\#(seed),\#(Self.openAIFields)}"#
        let object = try JSONSerialization.jsonObject(with: Data(try post("/v1/chat/completions", body).utf8)) as? [String: Any]
        let choice = (object?["choices"] as? [[String: Any]])?.first
        return (choice?["message"] as? [String: Any])?["content"] as? String
    }

    /// The engine's reply to `prompt`, run directly on the server's engine.
    func engineReply(_ prompt: [TokenID], _ sampling: SamplingParameters) throws -> [TokenID] {
        try Self.server.get().service.perform { engine in
            let id = try! engine.submit(GenerationRequest(prompt: prompt, maxTokens: Self.length, sampling: sampling, ignoreEOS: true))
            while true {
                for case let .finished(finished, completion) in engine.step() where finished == id { return completion.tokens }
            }
        }
    }

    var nativePrompt: [TokenID] { get throws { try Self.server.get().model.tokenizer.encode(Self.prompt, addSpecial: true) } }

    var chatPrompt: [TokenID] {
        get throws {
            let model = try Self.server.get().model
            return model.tokenizer.encode(chatPrompt: try #require(model.chatTemplate).prompt(Self.chatMessages, addGenerationPrompt: true))
        }
    }

    @Test func nativeSeedsReachTheSampler() throws {
        let first = try nativeIDs(seed: 1234)
        #expect(first.count == Self.length)
        #expect(try nativeIDs(seed: 1234) == first, "the same seed twice")
        let others = try [1235, 0, 99].map { try nativeIDs(seed: $0) }
        #expect(Set(others + [first]).count == 4, "four seeds should give four replies")
        // The seed arrives as it was sent: the engine's reply with seed 1234, not another.
        let prompt = try nativePrompt
        #expect(try engineReply(prompt, Self.sampling(seed: 1234)) == first)
        #expect(try engineReply(prompt, Self.sampling(seed: 1235)) == others[0])
    }

    @Test func chatCompletionSeedsReachTheSampler() throws {
        let tokenizer = try Self.server.get().model.tokenizer
        let first = try #require(try chatText(seed: 77))
        #expect(try chatText(seed: 77) == first, "the same seed twice")
        let others = try [78, 0, -1].map { try chatText(seed: $0) }
        #expect(Set(others + [first]).count == 4, "four seeds should give four replies")
        let prompt = try chatPrompt
        #expect(tokenizer.decode(try engineReply(prompt, Self.sampling(seed: 77, openAI: true)), special: false) == first)
        // OpenAI's seeds are signed: -1 is the 64 bits of -1.
        #expect(tokenizer.decode(try engineReply(prompt, Self.sampling(seed: .max, openAI: true)), special: false) == others[2])
    }

    /// The equalities above prove that a field arrives only if it changes
    /// the reply: each one, put back to its default, does.
    @Test func everyFieldChangesTheReply() throws {
        let defaults = SamplingParameters()
        let fields: [(String, WritableKeyPath<SamplingParameters, Float>)] = [
            ("temperature", \.temperature), ("top_p", \.topP), ("min_p", \.minP), ("repeat_penalty", \.repeatPenalty),
            ("presence_penalty", \.presencePenalty), ("frequency_penalty", \.frequencyPenalty),
        ]
        let prompt = try chatPrompt
        let reply = try engineReply(prompt, Self.sampling(seed: 77, openAI: true))
        for (name, field) in fields {
            var p = Self.sampling(seed: 77, openAI: true)
            p[keyPath: field] = defaults[keyPath: field]
            #expect(try engineReply(prompt, p) != reply, "\(name)")
        }
        var p = Self.sampling(seed: 77, openAI: true)
        p.topK = defaults.topK
        #expect(try engineReply(prompt, p) != reply, "top_k")
    }
}
