import Foundation
import Testing
@testable import Model

/// Which tokens end a reply, on a small SentencePiece vocabulary laid out
/// like Llama-3's specials: EOS is `<|end_of_text|>`, turns close with
/// `<|eot_id|>`.
@Suite struct EndOfGenerationTests {
    static let texts = ["<unk>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
                        "<|end_header_id|>", "<|eom_id|>", "\n", "a", "b"]

    func tokenizer(eot: UInt32? = nil, eom: UInt32? = nil) throws -> Tokenizer {
        var b = GGUFBuilder()
        b.metadata = [
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.tokens", .array(typeID: 8, Self.texts.map { .string($0) })),
            // control (3) for the specials, normal (1) for the rest
            ("tokenizer.ggml.token_type", .array(typeID: 5, Self.texts.indices.map { .int32($0 < 7 ? 3 : 1) })),
            ("tokenizer.ggml.bos_token_id", .uint32(1)),
            ("tokenizer.ggml.eos_token_id", .uint32(2)),
        ]
        if let eot { b.metadata.append(("tokenizer.ggml.eot_token_id", .uint32(eot))) }
        if let eom { b.metadata.append(("tokenizer.ggml.eom_token_id", .uint32(eom))) }
        return try Tokenizer(GGUFBuilder.parse(b.build()))
    }

    func llama3Template() throws -> ChatTemplate {
        let url = TestResources.fixture("chat/jinja/meta-llama-Llama-3.1-8B-Instruct.jinja")
        return try ChatTemplate(source: String(contentsOf: url, encoding: .utf8), bosToken: "<|begin_of_text|>",
                                eosToken: "<|end_of_text|>")
    }

    @Test func theTemplatesTurnCloserEndsAReplyBesideEOS() throws {
        let t = try tokenizer()
        let template = try llama3Template()
        #expect(template.endOfTurn == "<|eot_id|>")
        #expect(t.endOfTurn(of: template) == 3)
        #expect(t.endOfGeneration(template) == [2, 3])
    }

    @Test func theFilesEndOfTurnAndMessageCountWithoutATemplate() throws {
        #expect(try tokenizer().endOfGeneration(nil) == [2])
        #expect(try tokenizer(eot: 3, eom: 6).endOfGeneration(nil) == [2, 3, 6])
    }

    @Test func aTurnCloserOfSeveralTokensIsNotAStopToken() throws {
        // ChatML's "<|im_end|>" is plain text in this vocabulary: several
        // tokens, so only a stop string could catch it, not the engine.
        let chatML = try ChatTemplate(source: "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                                      + "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
        let t = try tokenizer()
        #expect(t.endOfTurn(of: chatML) == nil)
        #expect(t.endOfGeneration(chatML) == [2])
    }

    /// Each family's template with its real vocabulary (llama.cpp's vocab
    /// files, whose EOS is the base model's: `<|endoftext|>` for Qwen,
    /// `<|end_of_text|>` for Llama 3): the token that closes an assistant
    /// turn ends a reply, at the id the vocabulary file and llama-tokenize
    /// give it (make_family_template_fixtures.py). Phi-4-mini's vocabulary
    /// is not among the files.
    @Test(.enabled(if: TestResources.tokenizerVectorsEnabled, TestResources.tokenizerVectorsMissingNote))
    func eachFamilysTurnCloserEndsAReplyInItsVocabulary() throws {
        var checked: [String] = []
        for family in try FamilyTemplateTests.families() {
            guard let vocabulary = family["end_of_turn"]?["vocabulary"]?.stringValue,
                  case let .number(id)? = family["end_of_turn"]?["id"], let closer = TokenID(id) else { continue }
            let name = family["name"]?.stringValue ?? "?"
            let tokenizer = try Tokenizer(GGUFFile(path: TokenizerVectorTests.vocabulary(vocabulary).path))
            let template = try FamilyTemplateTests.template(family)
            #expect(tokenizer.endOfTurn(of: template) == closer, "\(name)")
            #expect(tokenizer.endOfGeneration(template).contains(closer), "\(name)")
            #expect(tokenizer.endOfGeneration(template).contains(tokenizer.vocabulary.eos ?? closer), "\(name)")
            checked.append(vocabulary)
        }
        #expect(Set(checked) == ["qwen2", "llama-bpe", "phi-3"])
        // Phi-4-mini closes turns with Phi-3.5's `<|end|>` and writes no
        // whitespace after it (`<|end|><|user|>`): in phi-3's vocabulary its
        // closer is that one token too.
        let families = try FamilyTemplateTests.families()
        let phi35 = try #require(families.first { $0["name"] == .string("phi-3.5") })
        let phi4 = try #require(families.first { $0["name"] == .string("phi-4-mini") })
        let phi3 = try Tokenizer(GGUFFile(path: TokenizerVectorTests.vocabulary("phi-3").path))
        guard case let .number(id)? = phi35["end_of_turn"]?["id"] else { throw FamilyTemplateTests.FixtureShape() }
        #expect(phi3.endOfTurn(of: try FamilyTemplateTests.template(phi4)) == TokenID(id))
    }
}
