import Foundation
import Testing
@testable import Model

/// The forward pass against independent references: a numpy forward pass
/// over the gguf package's dequantized weights, and llama.cpp's greedy
/// output (fixtures from scripts/fixtures/make_forward_fixtures.py and
/// make_greedy_fixtures.py).
@Suite(.enabled(if: TestResources.modelTestsEnabled, TestResources.modelMissingNote))
struct ReferenceOutputTests {
    func greedy(_ model: DecoderModel, prompt: [TokenID], steps: Int, eos: TokenID?) -> [TokenID] {
        let table = (0..<((prompt.count + steps) / 16 + 1)).map { Int32($0) }
        let cache = KVArena(hyperparameters: model.hyperparameters, elementType: .f16, blockSize: 16, blockCount: table.count)
        var logits = model.forward([ForwardSequence(tokens: prompt, startPosition: 0, blockTable: table)], cache: cache)[0]!
        var out: [TokenID] = []
        while out.count < steps {
            let best = argmax(logits)
            out.append(best)
            if best == eos { break }
            logits = model.forward([ForwardSequence(tokens: [best], startPosition: prompt.count + out.count - 1, blockTable: table)], cache: cache)[0]!
        }
        return out
    }

    /// llama.cpp's greedy output for 32 tokens, exactly. The fixture holds
    /// only prompts where llama.cpp's own top-1/top-2 margin stays at least
    /// 0.5 at every step (make_greedy_fixtures.py's selection rule): at near
    /// ties any two correct implementations may round differently, so
    /// agreement there would test luck, not the forward pass.
    @Test(arguments: DecoderModel.ActivationPrecision.allCases)
    func greedyContinuationsMatchLlamaCpp(_ precision: DecoderModel.ActivationPrecision) throws {
        let file = try TestResources.requireModel()
        let model = try DecoderModel(file: file, activations: precision)
        let fixture = try TestResources.decode(GreedyFixture.self, "forward/smollm2-llama-greedy.json")
        #expect(fixture.cases.count >= 5)
        #expect(fixture.cases.contains { $0.chat } && fixture.cases.contains { !$0.chat })
        for c in fixture.cases {
            let margins = c.completion_top_logprobs.map { $0[0][1] - $0[1][1] }
            #expect(margins.allSatisfy { $0 >= 0.5 }, "\(c.name): the fixture breaks its own selection rule")
            let ours = greedy(model, prompt: c.prompt_ids, steps: c.completion_ids.count, eos: file.tokenizer.vocabulary.eos)
            #expect(ours == c.completion_ids, "\(c.name), \(precision) activations")
        }
    }

    /// Exact float activations with an f32 cache must match the float64
    /// reference within 1e-3 (relative L2 over the logits).
    ///
    /// 8-bit activations are compared with the reference that quantizes
    /// activations the same way. That comparison cannot be tight: rounding
    /// to 8 bits is chaotic, and perturbing every quantizer input by 1e-6
    /// moves the emulated logits by 0.4-8.8e-2 relative (measured by
    /// make_forward_fixtures.py's author; see scripts/fixtures/README.md).
    /// So the int8 path is held to 0.1 and to the same top token, and its
    /// arithmetic is pinned down exactly in KernelTests instead.
    @Test func logitsMatchNumpyReference() throws {
        let file = try TestResources.requireModel()
        let fixture = try TestResources.decode(LogitsFixture.self, "forward/smollm2-reference-logits.json")
        let exact = try fixture.rows(fixture.logits_file)
        let emulated = try fixture.rows(try #require(fixture.int8_logits_file))
        for precision in DecoderModel.ActivationPrecision.allCases {
            let model = try DecoderModel(file: file, activations: precision)
            let reference = precision == .float ? exact : emulated
            for (position, expected) in zip(fixture.positions, reference) {
                for type in KVElementType.allCases {
                    let cache = KVArena(hyperparameters: model.hyperparameters, elementType: type, blockSize: 16, blockCount: 1)
                    let logits = model.forward([ForwardSequence(tokens: Array(fixture.prompt_ids[...position]), startPosition: 0, blockTable: [0])], cache: cache)[0]!
                    let relative = relativeL2(logits, from: expected)
                    print("logits at position \(position), \(precision) activations, \(type) cache: relative error \(relative)")
                    switch (precision, type) {
                    case (.float, .f32): #expect(relative < 1e-3)
                    case (.float, .f16): #expect(relative < 1e-2)  // keys and values rounded to 11 bits
                    case (.float, .q8_0): #expect(relative < 3e-2)  // 8 bits and a scale per 32 dimensions
                    // 8-bit activations amplify any perturbation chaotically
                    // (an f32 cache measures 0.083 at position 4); q8_0's
                    // rounding before them measured 0.19 there.
                    case (.int8, .q8_0): #expect(relative < 0.3)
                    case (.int8, _): #expect(relative < 0.1)
                    }
                    #expect(argmax(logits) == argmax(expected))
                }
            }
        }
    }
}
