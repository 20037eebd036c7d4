import JSONTree
import Foundation
import Testing
@testable import Model

/// The chat templates of the families kvserve runs (Qwen 2.5, Qwen 3 with
/// and without `enable_thinking=false`, Llama 3.2, Phi-3.5, Phi-4-mini)
/// against Jinja2's renders (scripts/fixtures/make_family_template_fixtures.py):
/// plain conversations, reasoning, tools, calls and results, byte for byte.
@Suite struct FamilyTemplateTests {
    /// The fixture, read keeping its objects' member order (tool schemas are rendered in it).
    static func fixture() throws -> JSON {
        try JSON.parse(String(contentsOf: TestResources.fixture("chat/family-renders.json"), encoding: .utf8))
    }

    static func families() throws -> [JSON] {
        guard case let .array(families)? = try fixture()["families"] else { throw FixtureShape() }
        return families
    }

    struct FixtureShape: Error {}

    static func source(_ family: JSON) throws -> String {
        try String(contentsOf: TestResources.fixture("chat/jinja/\(family["file"]?.stringValue ?? "")"), encoding: .utf8)
    }

    static func template(_ family: JSON) throws -> ChatTemplate {
        // Llama 3.2 writes today's date: the Jinja fixture's clock, which the script's strftime_now reads.
        try ChatTemplate(source: source(family), bosToken: family["bos_token"]?.stringValue,
                         eosToken: family["eos_token"]?.stringValue, clock: .fixed(try JinjaFixture.load().now))
    }

    static func variables(_ family: JSON) -> [String: JSON] {
        guard case let .object(members)? = family["variables"] else { return [:] }
        return Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func everyConversationRendersAsJinja2RendersIt() throws {
        let fixture = try Self.fixture()
        guard case let .array(tools)? = fixture["tools"] else { throw FixtureShape() }
        let families = try Self.families()
        #expect(families.compactMap { $0["name"]?.stringValue }
            == ["qwen2.5", "qwen3", "qwen3-no-thinking", "llama-3.2", "phi-3.5", "phi-4-mini"])
        for family in families {
            let name = family["name"]?.stringValue ?? "?"
            let template = try Self.template(family)
            #expect(template.rendersTools == (family["fallback"] == .bool(false)), "\(name)")
            guard case let .array(cases)? = family["cases"] else { throw FixtureShape() }
            #expect(cases.count >= 29)
            for c in cases {
                guard case let .array(ms)? = c["messages"] else { throw FixtureShape() }
                let messages = ms.map(ToolTemplateTests.message)
                let label = "\(name): \(messages.map(\.role)), tools \(c["with_tools"] == .bool(true))"
                do {
                    let rendered = try template.render(messages, tools: c["with_tools"] == .bool(true) ? tools : nil,
                                                       variables: Self.variables(family),
                                                       addGenerationPrompt: c["add_generation_prompt"] == .bool(true))
                    // Bytes, not String's ==, which equates canonically equivalent texts.
                    let expected = c["rendered"]?.stringValue ?? ""
                    #expect(rendered.utf8.elementsEqual(expected.utf8),
                            "\(label)\n\(rendered.debugDescription)\nJinja2: \(expected.debugDescription)")
                    #expect(c["error"] == nil, "\(label) should fail with \(c["error"]?.stringValue ?? "")")
                } catch let error as ChatTemplate.Error {
                    // A refusal is the template's own (raise_exception), with Jinja2's words.
                    #expect(error.message == c["error"]?.stringValue, "\(label): \(error)")
                }
            }
        }
    }

    /// The request's variables reach the template: Qwen 3 opens an empty
    /// reasoning block only when told `enable_thinking` is false.
    @Test func enableThinkingFalseClosesQwen3sReasoning() throws {
        let qwen3 = try #require(try Self.families().first { $0["name"] == .string("qwen3") })
        let template = try Self.template(qwen3)
        let user = [ChatMessage(role: "user", content: "Hi")]
        let off = try template.render(user, variables: ["enable_thinking": .bool(false)], addGenerationPrompt: true)
        let on = try template.render(user, variables: ["enable_thinking": .bool(true)], addGenerationPrompt: true)
        #expect(off == on + "<think>\n\n</think>\n\n")
        #expect(on == (try template.render(user, addGenerationPrompt: true)))
        // A variable the server sets itself cannot be replaced by a request.
        #expect(throws: ChatTemplate.Error.self) {
            try template.render(user, variables: ["add_generation_prompt": .bool(false)], addGenerationPrompt: true)
        }
    }

    /// Each family's turn closer, as Jinja2 writes it after an assistant's content.
    @Test func eachTemplateClosesATurnWithItsFamilysToken() throws {
        for family in try Self.families() {
            #expect(try Self.template(family).endOfTurn == family["end_of_turn"]?["text"]?.stringValue,
                    "\(family["name"]?.stringValue ?? "")")
        }
    }
}
