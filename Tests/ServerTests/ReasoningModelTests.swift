import Foundation
import JSONTree
import Model
import Testing
import TestSupport
@testable import Server

/// Reasoning models' templates from llama.cpp's set (Qwen3, QwQ) over the
/// default model, which speaks ChatML as they do: conversations resent
/// whole through the official SDK (OpenAI/reasoning_checks.py), native
/// sessions and Responses chains, each against a second server with the
/// follow-up re-render turned off (a tests-only switch). The truths: the
/// templates' renders (checked against Jinja2 in ModelTests), the cold
/// server's replies, and the token counts the bar allows.
@Suite(.serialized,
       .enabled(if: DefaultModel.testsEnabled, Comment(rawValue: DefaultModel.missingNote)),
       .enabled(if: PythonOpenAISDK.installed || DefaultModel.isCI, Comment(rawValue: PythonOpenAISDK.missingNote)))
struct ReasoningModelTests {
    static let templates = DefaultModel.repositoryRoot.appendingPathComponent("Tests/ModelTests/Fixtures/chat/jinja")
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("OpenAI/reasoning_checks.py").path
    /// What a follow-up may leave uncomputed: a block's worth (the bar's 16).
    static let slack = 16

    static func server(_ template: String, prefillsFollowUps: Bool = true) throws -> APIServer {
        var c = Configuration.forTests(kvCacheBytes: 64 << 20)
        c.chatTemplate = templates.appendingPathComponent(template).path
        c.prefillsFollowUps = prefillsFollowUps
        return try APIServer(configuration: c)
    }

    static func stop(_ server: APIServer) {
        let done = DispatchSemaphore(value: 0)
        server.shutdown { done.signal() }
        done.wait()
    }

    /// POSTs `body` (nil: a GET) and parses the answer.
    static func post(_ server: APIServer, _ route: String, _ body: JSON?) throws -> JSON {
        let r = try Subprocess.run("/usr/bin/curl", ["-sS", "http://127.0.0.1:\(server.http.port)\(route)"]
                                   + (body.map { ["-d", $0.serialized] } ?? []))
        return try JSON.parse(Array(r.output.utf8))
    }

    struct Reply: Decodable, Equatable {
        let content: String
        let reasoning: String
        let prompt_tokens: Int
        let cached_tokens: Int
        let completion_tokens: Int
        let reasoning_tokens: Int
        let finish_reason: String
    }

    /// A turn: what was sent, the re-rendering server's reply (the turn's
    /// own fields) and the cold one's.
    struct Turn: Decodable {
        let messages: [[String: String]]
        let reply: Reply
        let cold: Reply
        var chatMessages: [ChatMessage] { messages.map { ChatMessage(role: $0["role"]!, content: $0["content"]!) } }

        private enum Keys: String, CodingKey { case messages, cold }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            messages = try c.decode([[String: String]].self, forKey: .messages)
            cold = try c.decode(Reply.self, forKey: .cold)
            reply = try Reply(from: decoder)
        }
    }

    struct Variant: Decodable {
        let kwargs: [String: Bool]?
        let conversations: [[Turn]]
    }

    /// Runs the script against a re-rendering server and a cold one.
    static func conversations(_ template: String, variants: String, budget: Int? = nil) throws -> (variants: [Variant], model: ServedModel) {
        let warm = try server(template), cold = try server(template, prefillsFollowUps: false)
        defer { stop(warm); stop(cold) }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-reasoning-\(getpid())-\(template).json")
        defer { try? FileManager.default.removeItem(at: out) }
        let run = try PythonOpenAISDK.run(["python3", script, "--base-url", "http://127.0.0.1:\(warm.http.port)",
                                           "--cold-url", "http://127.0.0.1:\(cold.http.port)", "--variants", variants,
                                           "--out", out.path] + (budget.map { ["--budget", String($0)] } ?? []))
        try #require(run.status == 0, "reasoning_checks.py failed:\n\(run.output)")
        struct File: Decodable { let variants: [Variant] }
        return (try JSONDecoder().decode(File.self, from: Data(contentsOf: out)).variants, warm.model)
    }

    /// Tokens of `messages`' render before the last user turn: what a
    /// follow-up shares with the conversation as the template re-renders it.
    static func sharedPrefix(_ messages: [ChatMessage], _ template: ChatTemplate, _ variables: [String: JSON],
                             _ tokenizer: Tokenizer) throws -> Int {
        let text = try template.render(messages, variables: variables, addGenerationPrompt: true)
        let cut = try #require(text.range(of: "<|im_start|>user\n", options: .backwards))
        return tokenizer.encode(String(text[..<cut.lowerBound]), addSpecial: true, parseSpecial: true).count
    }

    /// The bars every variant keeps; returns the follow-ups where the cold
    /// server fell short of the bar (the re-render made the difference).
    @discardableResult
    static func check(_ variants: [Variant], model: ServedModel) throws -> Int {
        let template = try #require(model.chatTemplate)
        var coldShort = 0
        for variant in variants {
            let variables = (variant.kwargs ?? [:]).mapValues { JSON.bool($0) }
            for (c, turns) in variant.conversations.enumerated() {
                for (t, turn) in turns.enumerated() {
                    let label = "kwargs \(variant.kwargs.map { "\($0)" } ?? "absent"), conversation \(c), turn \(t)"
                    // Bit-identical to a computation without the re-rendered prefix, streamed or not.
                    #expect(turn.cold.content == turn.reply.content && turn.cold.reasoning == turn.reply.reasoning
                            && turn.cold.completion_tokens == turn.reply.completion_tokens && turn.cold.prompt_tokens == turn.reply.prompt_tokens,
                            "\(label): \(turn.reply) against cold \(turn.cold)")
                    // The markers are not text of either field (an answer may still write one of its own).
                    #expect(!turn.reply.content.hasPrefix("<think>") && !turn.reply.reasoning.contains("<think>") && !turn.reply.reasoning.contains("</think>"),
                            "\(label): \(turn.reply)")
                    if t == 0 {
                        // The kwargs reach the template: the prompt is its render, token for token.
                        let prompt = try template.prompt(turn.chatMessages, variables: variables, addGenerationPrompt: true)
                        #expect(turn.reply.prompt_tokens == model.tokenizer.encode(chatPrompt: prompt).count, "\(label)")
                        continue
                    }
                    let shared = try sharedPrefix(turn.chatMessages, template, variables, model.tokenizer)
                    #expect(turn.reply.cached_tokens >= shared - slack, "\(label): cached \(turn.reply.cached_tokens) of a shared \(shared)")
                    if turn.cold.cached_tokens < shared - slack { coldShort += 1 }
                }
            }
        }
        return coldShort
    }

    @Test func qwen3ConversationsResentThroughTheSDK() throws {
        let (variants, model) = try Self.conversations("Qwen-Qwen3-0.6B.jinja",
                                                       variants: #"[{"enable_thinking": false}, {"enable_thinking": true}, null]"#)
        #expect(variants.count == 3)
        try Self.check(variants, model: model)
        // enable_thinking false writes an empty think block the next render drops: without the
        // re-render the follow-ups recompute from the first one.
        let off = try Self.check([variants[0]], model: model)
        #expect(off > 0, "no cold follow-up fell short of the bar")
        let cached = variants[0].conversations.joined().map { ($0.reply.cached_tokens, $0.cold.cached_tokens) }
        #expect(cached.map(\.1).reduce(0, +) < cached.map(\.0).reduce(0, +), "\(cached)")
        // The first prompts of the three: false adds "<think>\n\n</think>\n\n" to the others'.
        let template = try #require(model.chatTemplate)
        let first = variants.map { $0.conversations[0][0].reply.prompt_tokens }
        let block = model.tokenizer.encode("<think>\n\n</think>\n\n", parseSpecial: true).count
        #expect(first[0] == first[1] + block && first[1] == first[2], "\(first), block \(block)")
        #expect(try template.render([ChatMessage(role: "user", content: "x")], variables: ["enable_thinking": false], addGenerationPrompt: true)
            .hasSuffix("<|im_start|>assistant\n<think>\n\n</think>\n\n"))
    }

    @Test func qwqRepliesReasonWithinTheirBudget() throws {
        let budget = 12
        let (variants, model) = try Self.conversations("Qwen-QwQ-32B.jinja", variants: #"[{"enable_thinking": true}, {"enable_thinking": false}, null]"#,
                                                       budget: budget)
        let off = try Self.check(variants, model: model)
        #expect(off > 0, "the re-render made no difference")
        let closing = model.tokenizer.encode("</think>\n\n", parseSpecial: true).count
        var closedByBudget = 0
        for turn in variants[0].conversations.joined() {
            // The template opens the block: everything up to its end is reasoning.
            #expect(turn.reply.reasoning_tokens > 0 && turn.reply.reasoning_tokens <= budget + closing, "\(turn.reply)")
            #expect(!turn.reply.reasoning.isEmpty, "\(turn.reply)")
            // Past the budget only when the engine closed the block (its forced tokens).
            if turn.reply.reasoning_tokens > budget { closedByBudget += 1 }
        }
        #expect(closedByBudget > 0)
        // Thinking off (false, or the kwargs absent): this template closes the block in the prompt.
        for turn in variants[1...].map(\.conversations).joined().joined() {
            #expect(turn.reply.reasoning.isEmpty && turn.reply.reasoning_tokens == 0, "\(turn.reply)")
        }
    }

    /// A native session sends only its new messages; the session keeps its
    /// turns as the template re-renders them, and the cold server's session
    /// recomputes what the re-render changed.
    @Test func nativeSessionsAndResponseChainsComputeOnlyNewTokens() throws {
        let warm = try Self.server("Qwen-QwQ-32B.jinja"), cold = try Self.server("Qwen-QwQ-32B.jinja", prefillsFollowUps: false)
        defer { Self.stop(warm); Self.stop(cold) }
        let questions = ["What is the capital of France?", "And of Italy?", "Name a river there.", "Thanks, bye."]
        var warmCached: [Int] = [], coldCached: [Int] = [], history: [Int] = []
        for question in questions {
            let body: JSON = ["session_id": "native-1", "messages": [["role": "user", "content": JSON(question)]], "max_tokens": 40,
                              "temperature": 0, "stream": false, "chat_template_kwargs": ["enable_thinking": true], "max_reasoning_tokens": 8]
            let a = try Self.post(warm, "/v1/generate", body), b = try Self.post(cold, "/v1/generate", body)
            #expect(a["text"] == b["text"] && a["text"] != nil, "\(a) against \(b)")
            warmCached.append(a["usage"]?["cached_tokens"]?.intValue ?? -1)
            coldCached.append(b["usage"]?["cached_tokens"]?.intValue ?? -1)
            let session = try Self.post(warm, "/v1/sessions/native-1", nil)
            history.append(session["tokens"]?.intValue ?? -1)
        }
        for t in 1..<questions.count {
            #expect(warmCached[t] >= history[t - 1] - Self.slack, "turn \(t): cached \(warmCached[t]) of a history of \(history[t - 1])")
        }
        #expect(coldCached.reduce(0, +) < warmCached.reduce(0, +), "\(coldCached) against \(warmCached)")

        // previous_response_id: each response continues the stored one, kept as the next request renders it.
        let template = try #require(warm.model.chatTemplate)
        var previous: (warm: JSON, cold: JSON)?
        var coldTotal = 0, warmTotal = 0
        for (t, question) in questions.enumerated() {
            var warmBody: JSON = ["input": JSON(question), "max_output_tokens": 40, "temperature": 0,
                                  "chat_template_kwargs": ["enable_thinking": true], "max_reasoning_tokens": 8]
            var coldBody = warmBody
            if let previous {
                warmBody["previous_response_id"] = previous.warm
                coldBody["previous_response_id"] = previous.cold
            }
            let a = try Self.post(warm, "/v1/responses", warmBody), b = try Self.post(cold, "/v1/responses", coldBody)
            #expect(Self.withoutIDs(a["output"]) == Self.withoutIDs(b["output"]) && a["output"] != nil, "\(a) against \(b)")
            #expect(a["output"]?.arrayValue?.first?["type"] == "reasoning", "\(a)")
            let cached = a["usage"]?["input_tokens_details"]?["cached_tokens"]?.intValue ?? -1
            let input = a["usage"]?["input_tokens"]?.intValue ?? -1
            let coldCached = b["usage"]?["input_tokens_details"]?["cached_tokens"]?.intValue ?? 0
            #expect(cached >= coldCached, "turn \(t)")
            warmTotal += cached
            coldTotal += coldCached
            if t > 0 {
                // All but the new user turn (and its generation prompt) comes from the cache.
                let new = warm.model.tokenizer.encode(try template.continuation([ChatMessage(role: "user", content: question)], closingTurn: false,
                                                                                variables: ["enable_thinking": true], addGenerationPrompt: true)).count
                #expect(cached >= input - new - Self.slack, "turn \(t): cached \(cached) of \(input), \(new) of them new")
            }
            previous = (try #require(a["id"]), try #require(b["id"]))
        }
        // Each turn's re-render changes only the turn before (the stored tokens are the
        // re-rendered ones already), so the cold server falls short by less there.
        #expect(coldTotal <= warmTotal, "cached: cold \(coldTotal), warm \(warmTotal)")
    }

    /// The request fields that reach the template or the reply, each against
    /// the template's own render or the same request without the field.
    @Test func requestFieldsReachTheTemplateAndTheReply() throws {
        var c = Configuration.forTests(kvCacheBytes: 32 << 20)
        c.chatTemplate = Self.templates.appendingPathComponent("Qwen-QwQ-32B.jinja").path
        c.reasoningBudget = 5
        let qwq = try APIServer(configuration: c)
        defer { Self.stop(qwq) }
        let ask: JSON = ["messages": [["role": "user", "content": "What is the capital of France?"]], "max_tokens": 30, "temperature": 0,
                         "chat_template_kwargs": ["enable_thinking": true]]
        // The configured budget, and the request's own.
        let split = try Self.post(qwq, "/v1/chat/completions", ask)
        let closing = qwq.model.tokenizer.encode("</think>\n\n", parseSpecial: true).count
        let spent = split["usage"]?["completion_tokens_details"]?["reasoning_tokens"]?.intValue ?? -1
        #expect(spent > 5 && spent <= 5 + closing, "\(split)")
        var unlimited = ask
        unlimited["max_reasoning_tokens"] = -1
        let free = try Self.post(qwq, "/v1/chat/completions", unlimited)
        #expect(free["usage"]?["completion_tokens_details"]?["reasoning_tokens"] != split["usage"]?["completion_tokens_details"]?["reasoning_tokens"])
        // reasoning_format none: the same reply, the reasoning inline in content.
        var inline = ask
        inline["reasoning_format"] = "none"
        let raw = try Self.post(qwq, "/v1/chat/completions", inline)
        let message = try #require(split["choices"]?.arrayValue?.first?["message"])
        let rawMessage = try #require(raw["choices"]?.arrayValue?.first?["message"])
        let reasoning = try #require(message["reasoning_content"]?.stringValue), answer = message["content"]?.stringValue ?? ""
        let text = try #require(rawMessage["content"]?.stringValue)
        #expect(rawMessage["reasoning_content"] == nil && text.contains(reasoning) && text.contains("</think>") && text.hasSuffix(answer),
                "\(text) against \(message)")
        var badFormat = ask
        badFormat["reasoning_format"] = "xml"
        #expect(try Self.post(qwq, "/v1/chat/completions", badFormat)["error"]?["param"] == "reasoning_format")

        // An assistant message's reasoning_content (Qwen3 writes it for a reply after the last user turn).
        let qwen3 = try Self.server("Qwen-Qwen3-0.6B.jinja")
        defer { Self.stop(qwen3) }
        let template = try #require(qwen3.model.chatTemplate)
        let user = ChatMessage(role: "user", content: "Hi."), reply = ChatMessage(role: "assistant", content: "Hello!", reasoningContent: "Greet back.")
        func promptTokens(_ messages: JSON) throws -> Int? {
            try Self.post(qwen3, "/v1/chat/completions", ["messages": messages, "max_tokens": 1])["usage"]?["prompt_tokens"]?.intValue
        }
        let with = try promptTokens([["role": "user", "content": "Hi."], ["role": "assistant", "content": "Hello!", "reasoning_content": "Greet back."]])
        let without = try promptTokens([["role": "user", "content": "Hi."], ["role": "assistant", "content": "Hello!"]])
        #expect(with == qwen3.model.tokenizer.encode(chatPrompt: try template.prompt([user, reply], addGenerationPrompt: true)).count)
        #expect(with != nil && without != nil && with! > without!)
        // A variable the server sets is not the request's.
        let clash = try Self.post(qwen3, "/v1/chat/completions", ["messages": [["role": "user", "content": "Hi."]],
                                                                   "chat_template_kwargs": ["messages": []]])
        #expect(clash["error"]?["message"]?.stringValue?.contains("set by the server") == true, "\(clash)")

        // reasoning_effort reaches a template that reads it (gpt-oss writes "Reasoning: <effort>").
        let harmony = try Self.server("../template-set/openai-gpt-oss-120b.jinja")
        defer { Self.stop(harmony) }
        let gpt = try #require(harmony.model.chatTemplate)
        for effort in ["low", "high"] {
            let r = try Self.post(harmony, "/v1/chat/completions", ["messages": [["role": "user", "content": "Hi."]], "max_tokens": 1,
                                                                    "reasoning_effort": JSON(effort)])
            let expected = try gpt.prompt([user], variables: ["reasoning_effort": JSON(effort)], addGenerationPrompt: true)
            #expect(expected.string.contains("Reasoning: \(effort)"))
            #expect(r["usage"]?["prompt_tokens"]?.intValue == harmony.model.tokenizer.encode(chatPrompt: expected).count, "\(effort): \(r)")
        }
    }

    /// An output list without its items' ids (each server makes its own).
    static func withoutIDs(_ output: JSON?) -> JSON? {
        guard case let .array(items)? = output else { return output }
        return .array(items.map { item in .object((item.objectValue ?? []).filter { $0.key != "id" }) })
    }
}
