import JSONTree
import Foundation
import Testing
@testable import Model

/// Every chat template of llama.cpp's set (models/templates: model
/// repositories' templates) against Jinja2's renders of 20 conversations
/// (scripts/fixtures/make_template_set_fixtures.py): plain and multi-turn
/// chat, system prompts, reasoning as `reasoning_content` and inline, tools,
/// calls and results, `enable_thinking`. A template either loads and renders
/// every case byte for byte as Jinja2 does, or is refused when it loads,
/// naming what kvserve does not implement.
@Suite struct TemplateSetTests {
    /// Refused at load for a construct kvserve does not implement, with
    /// the words of each refusal.
    static let refused: [String: String] = [
        // A dict literal with integer keys ({0: 0, 512: 128, ...}).
        "ByteDance-Seed-OSS": "dictionary keys other than strings are not supported",
        // `args | from_json`, a filter llama.cpp defines and transformers
        // does not: Jinja2 compiles an unknown filter inside an `if` and
        // fails only when the branch runs (string arguments); kvserve refuses
        // unknown filters at load.
        "deepseek-ai-DeepSeek-V3.2": "the filter 'from_json' is not supported",
        "deepseek-ai-DeepSeek-V4": "the filter 'from_json' is not supported",
        "deepseek-ai-DeepSeek-V4-Flash-0731": "the filter 'from_json' is not supported",
    ]

    /// Tool-use templates that iterate `tools` unguarded: Jinja2 fails on
    /// every conversation without tools, kvserve's load-time trial render
    /// (a plain conversation) fails the same way.
    static let needTools: Set<String> = ["NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", "NousResearch-Hermes-3-Llama-3.1-8B-tool_use"]

    /// Templates Jinja2 renders no conversation of, as transformers gives
    /// them: Command R+'s tool_use wants `tools` in another shape (a
    /// top-level `description`), firefunction v2 a `functions` variable.
    /// Refused at load too.
    static let unrenderable: Set<String> = ["CohereForAI-c4ai-command-r-plus-tool_use", "fireworks-ai-llama-3-firefunction-v2"]

    /// Cases kvserve renders where Jinja2 raises: llama.cpp's own DeepSeek
    /// R1 template writes `tools | map(attribute='function') | tojson`, and
    /// Jinja2's `map` gives a generator, which json.dumps refuses; kvserve's
    /// `map` gives a list.
    static let divergent: [String: Set<Int>] = ["llama-cpp-deepseek-r1": [11, 12, 13, 14, 15, 16]]

    /// Templates that load and re-render earlier turns (`appendsTurns`
    /// false): reasoning models that drop earlier replies' reasoning, and
    /// templates whose generation prompt differs from an answered turn's opening.
    static let reRendering: Set<String> = [
        "Apriel-1.6-15b-Thinker-fixed", "Cohere2MoE", "CohereForAI-c4ai-command-r7b-12-2024-tool_use", "GLM-4.6", "GLM-4.7-Flash",
        "Kimi-K2-Thinking", "Kimi-K3", "MiniMax-M2", "MiniMax-M3", "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "NVIDIA-Nemotron-Nano-v2",
        "Qwen-QwQ-32B", "Qwen3.5-4B", "Reka-Edge", "Spark2.5", "StepFun3.5-Flash", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B",
        "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "google-gemma-4-31B-it", "google-gemma-4-31B-it-interleaved",
        "inclusionai-ling-3.0-flash", "llama-cpp-deepseek-r1", "llama-cpp-rwkv-world", "meetkai-functionary-medium-v3.2",
        "muse-glimmer", "openai-gpt-oss-120b", "poolside-Laguna-S-2.1", "poolside-Laguna-XS-2.1", "poolside-Laguna-XS.2",
        "upstage-Solar-Open-100B",
    ]

    struct FixtureShape: Error {}

    struct Entry {
        let json: JSON
        var name: String { json["name"]?.stringValue ?? "?" }
        var renders: [JSON] { if case let .array(r)? = json["renders"] { r } else { [] } }
    }

    struct Case {
        let messages: [ChatMessage]
        let tools: Bool
        let variables: [String: JSON]
        let addGenerationPrompt: Bool
    }

    /// The fixture, read keeping its objects' member order (tool schemas are rendered in it).
    static let fixture: Result<JSON, Swift.Error> = Result {
        try JSON.parse(String(contentsOf: TestResources.fixture("chat/template-set.json"), encoding: .utf8))
    }

    static func entries() throws -> [Entry] {
        guard case let .array(items)? = try fixture.get()["templates"] else { throw FixtureShape() }
        return items.map(Entry.init)
    }

    static func message(_ m: JSON) -> ChatMessage {
        var message = ToolTemplateTests.message(m)
        message.reasoningContent = m["reasoning_content"]?.stringValue
        return message
    }

    static func cases() throws -> [Case] {
        guard case let .array(items)? = try fixture.get()["cases"] else { throw FixtureShape() }
        return try items.map { c in
            guard case let .array(ms)? = c["messages"] else { throw FixtureShape() }
            var variables: [String: JSON] = [:]
            if case let .object(members)? = c["variables"] { for (k, v) in members { variables[k] = v } }
            return Case(messages: ms.map(message), tools: c["tools"] == .bool(true), variables: variables,
                        addGenerationPrompt: c["add_generation_prompt"] == .bool(true))
        }
    }

    static func tools() throws -> [JSON] {
        guard case let .array(tools)? = try fixture.get()["tools"] else { throw FixtureShape() }
        return tools
    }

    static func now() throws -> Date {
        guard case let .number(text)? = try fixture.get()["clock"]?["unix"], let unix = Double(text) else { throw FixtureShape() }
        return Date(timeIntervalSince1970: unix)
    }

    /// The template as the fixture rendered it (its tokens, its clock), or the load error.
    static func load(_ entry: Entry) throws -> Result<ChatTemplate, ChatTemplate.Error> {
        let source = try String(contentsOf: TestResources.fixture("chat/template-set/\(entry.json["file"]?.stringValue ?? "")"),
                                encoding: .utf8)
        do {
            return .success(try ChatTemplate(source: source, bosToken: entry.json["bos_token"]?.stringValue,
                                              eosToken: entry.json["eos_token"]?.stringValue, clock: .fixed(now())))
        } catch let error as ChatTemplate.Error { return .failure(error) }
    }

    static let loaded: Result<[(Entry, Result<ChatTemplate, ChatTemplate.Error>)], Swift.Error> = Result {
        try entries().map { ($0, try load($0)) }
    }

    @Test func theFixtureIsTheWholeSet() throws {
        let entries = try Self.entries()
        #expect(entries.count == 70)
        #expect(try Self.cases().count == 20)
        let files = try FileManager.default.contentsOfDirectory(atPath: TestResources.fixture("chat/template-set").path)
        #expect(Set(files) == Set(entries.compactMap { $0.json["file"]?.stringValue }))
    }

    /// Each template Jinja2 renders loads, or is refused at load naming a
    /// construct kvserve does not implement; the refused ones are the lists above.
    @Test func everyTemplateLoadsOrIsRefusedNamingWhatIsMissing() throws {
        var refusedNow: [String: String] = [:]
        for (entry, result) in try Self.loaded.get() {
            guard case let .failure(error) = result else { continue }
            refusedNow[entry.name] = error.description
            guard case let .invalid(e) = error else { Issue.record("\(entry.name): \(error)"); continue }
            if Self.unrenderable.contains(entry.name) { continue }
            if Self.needTools.contains(entry.name) {
                // Jinja2 fails on the plain conversation too, for the same reason.
                #expect(e.kind == .runtime && entry.renders.first?["error"]?.stringValue?.contains("not iterable") == true,
                        "\(entry.name): \(e)")
                continue
            }
            #expect(e.kind == .unsupported, "\(entry.name): \(e)")
            #expect(e.description.contains(Self.refused[entry.name] ?? "?"), "\(entry.name): \(e)")
        }
        #expect(Set(refusedNow.keys) == Set(Self.refused.keys).union(Self.needTools).union(Self.unrenderable),
                "refused: \(refusedNow.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n"))")
        #expect(Set(try Self.entries().filter { $0.json["unrenderable"] != nil }.map(\.name)) == Self.unrenderable)
    }

    /// Every case of every template that loads renders as Jinja2 renders it,
    /// byte for byte, or is rejected where Jinja2 raised (with the
    /// template's own words when it called raise_exception).
    @Test func everyLoadedTemplateRendersEveryCaseAsJinja2() throws {
        let cases = try Self.cases()
        let tools = try Self.tools()
        for (entry, result) in try Self.loaded.get() {
            guard case let .success(template) = result else { continue }
            #expect(template.rendersTools == (entry.json["fallback"] == .bool(false)), "\(entry.name)")
            #expect(entry.renders.count == cases.count)
            for (k, (c, expected)) in zip(cases, entry.renders).enumerated() {
                let label = "\(entry.name) case \(k): \(c.messages.map(\.role))"
                do {
                    let rendered = try template.render(c.messages, tools: c.tools ? tools : nil, variables: c.variables,
                                                       addGenerationPrompt: c.addGenerationPrompt)
                    // Bytes, not String's ==, which equates canonically equivalent texts.
                    if Self.divergent[entry.name]?.contains(k) == true {
                        #expect(expected["error"] != nil, "\(label) no longer diverges")
                        continue
                    }
                    let want = expected["rendered"]?.stringValue
                    #expect(want.map { rendered.utf8.elementsEqual($0.utf8) } == true,
                            "\(label)\n\(rendered.debugDescription)\nJinja2: \((want ?? expected["error"]?.stringValue ?? "").debugDescription)")
                } catch let error as ChatTemplate.Error {
                    #expect(expected["error"] != nil, "\(label): \(error)")
                    if expected["raised"] == .bool(true) { #expect(error.message == expected["error"]?.stringValue, "\(label): \(error)") }
                }
            }
        }
    }

    /// Which templates re-render earlier turns (reasoning models drop
    /// earlier replies' reasoning): their sessions continue by content. The
    /// verdict agrees with the same probe on Jinja2's renders.
    @Test func reRenderingTemplatesAreTheExpectedOnes() throws {
        var found: Set<String> = []
        for (entry, result) in try Self.loaded.get() {
            guard case let .success(template) = result else { continue }
            if !template.appendsTurns { found.insert(entry.name) }
            #expect(entry.json["appends_turns"] == .bool(template.appendsTurns), "\(entry.name)")
        }
        #expect(found == Self.reRendering, "appendsTurns false: \(found.sorted())")
    }

    /// Templates that write no markup after an assistant's content that a
    /// closing and a continuing render share up to the first whitespace
    /// (GLM, Apertus and Hy3 write none in one of them; gpt-oss writes
    /// `<|return|>` or `<|end|>`; the others begin with a line break): they
    /// load with "" as the end of turn, the model's EOS ending its reply.
    static let noTurnCloser: Set<String> = [
        "Apertus-8B-Instruct", "Apriel-1.6-15b-Thinker-fixed", "GLM-4.6", "GLM-4.7-Flash", "NVIDIA-Nemotron-Nano-v2",
        "Reka-Edge", "llama-cpp-rwkv-world", "openai-gpt-oss-120b", "poolside-Laguna-XS-2.1", "poolside-Laguna-XS.2", "tencent-Hy3",
        "unsloth-Apriel-1.5",
    ]

    /// A follow-up's continuation is what Jinja2 writes after the reply:
    /// for a template that appends turns, history + reply + continuation is
    /// Jinja2's whole render; for one that re-renders, Jinja2's render ends
    /// with it. Without `closingTurn`, it lacks only the end of turn.
    @Test func continuationsFollowTheReplyAsJinja2WritesIt() throws {
        let cases = try Self.cases()
        // Case 3: [user, assistant, user], add_generation_prompt.
        let c = cases[3]
        #expect(c.messages.map(\.role) == ["user", "assistant", "user"] && c.addGenerationPrompt)
        var noCloser: Set<String> = []
        for (entry, result) in try Self.loaded.get() {
            guard case let .success(template) = result, let expected = entry.renders[3]["rendered"]?.stringValue else { continue }
            if template.endOfTurn.isEmpty { noCloser.insert(entry.name) }
            let rest = try template.continuation([c.messages[2]], closingTurn: true, addGenerationPrompt: true).string
            if template.appendsTurns {
                let history = try template.render([c.messages[0]], addGenerationPrompt: true)
                #expect(history + c.messages[1].content + rest == expected, "\(entry.name)")
            } else {
                #expect(expected.unicodeScalars.reversed().starts(with: rest.unicodeScalars.reversed()), "\(entry.name): \(rest.debugDescription)")
            }
            let open = try template.continuation([c.messages[2]], closingTurn: false, addGenerationPrompt: true).string
            #expect(template.endOfTurn + open == rest, "\(entry.name)")
        }
        #expect(noCloser == Self.noTurnCloser, "end of turn \"\": \(noCloser.sorted())")
    }
}
