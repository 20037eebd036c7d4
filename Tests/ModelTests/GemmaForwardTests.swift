import Foundation
import Testing
import TestSupport
@testable import Model

/// Gemma 3 270M against llama.cpp's greedy output, and its sliding-window
/// layers across chunked prefill (scripts/fixtures/make_greedy_fixtures.py
/// --vocab gemma3).
@Suite(.enabled(if: TestResources.gemmaPresent, TestResources.gemmaMissingNote))
struct GemmaForwardTests {
    static let file: Result<ModelFile, Error> = Result { try ModelFile(gguf: TestResources.gemma.get()) }
    static let model: Result<DecoderModel, Error> = Result { try DecoderModel(file: file.get()) }

    /// llama.cpp's 32 greedy tokens, exactly, for every prompt where its own
    /// top-1/top-2 margin stays at least 0.5; two prompts (1,093 and 1,392
    /// tokens) run past the 512-position window of the local layers.
    @Test func greedyContinuationsMatchLlamaCpp() throws {
        let file = try Self.file.get(), model = try Self.model.get()
        let fixture = try TestResources.decode(GreedyFixture.self, "forward/gemma3-llama-greedy.json")
        #expect(fixture.cases.count >= 10)
        #expect(fixture.cases.contains { $0.prompt_ids.count > 2 * file.hyperparameters.slidingWindow! })
        for c in fixture.cases {
            let margins = c.completion_top_logprobs.map { $0[0][1] - $0[1][1] }
            #expect(margins.allSatisfy { $0 >= 0.5 }, "\(c.name): the fixture breaks its own selection rule")
            let ours = ReferenceOutputTests().greedy(model, prompt: c.prompt_ids, steps: c.completion_ids.count,
                                                     eos: file.tokenizer.vocabulary.eos)
            #expect(ours == c.completion_ids, "\(c.name)")
        }
    }

    /// A long prompt's logits are the same bits whether it is prefilled in
    /// one step or in pieces that each attend to the cache the earlier ones
    /// left (what a session's follow-up does), windows included.
    @Test func chunkedPrefillIsBitIdentical() throws {
        let model = try Self.model.get()
        let fixture = try TestResources.decode(GreedyFixture.self, "forward/gemma3-llama-greedy.json")
        let prompt = try #require(fixture.cases.max { $0.prompt_ids.count < $1.prompt_ids.count }).prompt_ids
        let table = (0..<(prompt.count / 16 + 1)).map { Int32($0) }
        func logits(pieces: Int) -> [Float] {
            let cache = KVArena(hyperparameters: model.hyperparameters, elementType: .f16, blockSize: 16, blockCount: table.count)
            var result: [Float] = []
            var start = 0
            for k in 1...pieces {
                let end = prompt.count * k / pieces
                result = model.forward([ForwardSequence(tokens: Array(prompt[start..<end]), startPosition: start, blockTable: table)],
                                       cache: cache)[0]!
                start = end
            }
            return result
        }
        let whole = logits(pieces: 1), chunked = logits(pieces: 5)
        #expect(whole.count == model.vocabularySize)
        #expect(zip(whole, chunked).allSatisfy { $0.bitPattern == $1.bitPattern })
    }
}
