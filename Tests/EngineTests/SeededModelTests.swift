import Testing
@testable import Engine
import Model

/// Seeds through the engine on the real model (SmolLM2): at temperature 1
/// equal seeds give equal replies, in one batch or alone, and different
/// seeds different replies.
@Suite(.enabled(if: TestModel.enabled, TestModel.missingNote))
struct SeededModelTests {
    func replies(seeds: [UInt64]) throws -> [[TokenID]] {
        let (file, llama) = try TestModel.loaded.get()
        let arena = KVArena(hyperparameters: llama.hyperparameters, elementType: .f16, blockSize: 16, blockCount: 64)
        let engine = DecodeEngine(model: PagedDecoderModel(model: llama, arena: arena), endOfGeneration: file.endOfGeneration)
        let prompt = file.tokenizer.encode("Once upon a time, in a small village,", addSpecial: true)
        let parameters = seeds.map { seed -> SamplingParameters in
            var p = SamplingParameters()
            p.temperature = 1
            p.seed = seed
            return p
        }
        return try engine.complete(parameters.map {
            GenerationRequest(prompt: prompt, maxTokens: 32, sampling: $0, ignoreEOS: true)
        }).map(\.tokens)
    }

    @Test func equalSeedsRepeatAndDifferentSeedsDiffer() throws {
        let seeds: [UInt64] = [11, 12, 13, 14, 15, 11]
        let batch = try replies(seeds: seeds)
        #expect(batch.allSatisfy { $0.count == 32 })
        #expect(batch[0] == batch[5], "seed 11 twice in one batch")
        #expect(Set(batch.prefix(5)).count == 5, "five seeds should give five replies")
        #expect(try replies(seeds: [11]) == [batch[0]], "seed 11 alone")
    }
}
