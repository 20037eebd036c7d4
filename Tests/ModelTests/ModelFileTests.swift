import Testing
@testable import Model

/// The default model's real figures (DEVELOPERS.md: 30 layers, width 576,
/// 9 heads, 3 KV heads, FFN 1536, RoPE base 1e5, vocabulary 49152).
@Suite(.enabled(if: TestResources.modelTestsEnabled, TestResources.modelMissingNote))
struct ModelFileTests {
    @Test func hyperparameters() throws {
        let h = try TestResources.requireModel().hyperparameters
        #expect(h.architecture == "llama")
        #expect(h.blockCount == 30 && h.embeddingLength == 576 && h.headCount == 9 && h.headCountKV == 3)
        #expect(h.feedForwardLength == 1536 && h.ropeFreqBase == 100_000 && h.headDimension == 64)
        #expect(h.contextLength == 8192 && h.vocabSize == 49152)
    }

    @Test func tensorsAndTokenizer() throws {
        let model = try TestResources.requireModel()
        #expect(model.gguf.tensors.count == 272)
        // 30 layers x 9 tensors + token_embd + output_norm; output is tied.
        #expect(model.gguf.tensor(named: "output.weight") == nil)
        #expect(model.gguf.tensorTypeCounts.map { "\($0.type)=\($0.count)" } == ["F32=61", "Q4_1=210", "Q8_0=1"])
        #expect((130_000_000...140_000_000).contains(model.gguf.parameterCount))
        let v = model.tokenizer.vocabulary
        #expect(v.count == 49152 && v.model == .bytePairEncoding && v.preTokenizerName == "smollm")
        #expect(v.bos == 1 && v.eos == 2 && !v.addBOS)
        #expect(model.tokenizer.droppedMerges == 0)
    }
}
