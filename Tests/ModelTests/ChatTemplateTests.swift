import Foundation
import Testing
@testable import Model

/// ChatML rendering against Jinja2's rendering of the model's own template
/// (scripts/fixtures/make_chat_template_fixtures.py).
@Suite struct ChatTemplateTests {
    @Test func rendersExactlyAsJinja() throws {
        let fixture = try TestResources.decode(ChatFixture.self, "chat/smollm2-chatml.json")
        let template = try ChatTemplate(source: fixture.template)
        #expect(template == .chatML(defaultSystemPrompt: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"))
        #expect(fixture.cases.count >= 8)
        for c in fixture.cases {
            #expect(template.render(c.messages, addGenerationPrompt: c.add_generation_prompt) == c.rendered)
        }
    }

    @Test func plainChatMLHasNoDefaultSystemPrompt() throws {
        let source = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
        let template = try ChatTemplate(source: source)
        #expect(template == .chatML(defaultSystemPrompt: nil))
        #expect(template.render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
            == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func unrecognisedTemplatesAreErrors() {
        let llama2 = "{% for message in messages %}{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}{% endfor %}"
        #expect(throws: ChatTemplate.Error.self) { try ChatTemplate(source: llama2) }
        #expect(throws: ChatTemplate.Error.self) { try ChatTemplate(source: "") }
    }

    @Test func modelWithUnrecognisedTemplateFailsToLoad() throws {
        // The gpt-2 vocabulary file has no chat template and no llama shape.
        let path = TestResources.tokenizerVectors.appendingPathComponent("ggml-vocab-gpt-2.gguf").path
        let gguf = try GGUFFile(path: path)
        #expect(throws: GGUFError.missingKey("tokenizer.chat_template")) { try ChatTemplate(model: gguf) }
        #expect(throws: (any Error).self) { try ModelFile(gguf: gguf) }
    }

    @Test(.enabled(if: TestResources.modelTestsEnabled, TestResources.modelMissingNote))
    func defaultModelHasChatML() throws {
        let model = try TestResources.requireModel()
        guard case let .chatML(system) = model.chatTemplate else { Issue.record("not ChatML"); return }
        #expect(system == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        let fixture = try TestResources.decode(ChatFixture.self, "chat/smollm2-chatml.json")
        #expect(try model.gguf.string(ChatTemplate.metadataKey) == fixture.template)
    }
}
