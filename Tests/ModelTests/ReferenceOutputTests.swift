import Foundation
import Testing
@testable import Model

/// The forward pass against independent references: a numpy forward pass
/// over the gguf package's dequantized weights, and llama.cpp's greedy
/// output (fixtures from scripts/fixtures/make_forward_fixtures.py and
/// make_greedy_fixtures.py).
@Suite(.enabled(if: TestResources.modelTestsEnabled, TestResources.modelMissingNote))
struct ReferenceOutputTests {
    func greedy(_ model: LlamaModel, prompt: [TokenID], steps: Int, eos: TokenID?) -> [TokenID] {
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

    /// llama.cpp's greedy tokens depend on its own rounding wherever the top
    /// two logits nearly tie, so exact agreement is demanded up to the first
    /// step where llama.cpp's own margin (top-1 minus top-2 log-probability)
    /// falls below 0.5; beyond it agreement is reported, not required.
    @Test(arguments: LlamaModel.ActivationPrecision.allCases)
    func greedyContinuationsMatchLlamaCpp(_ precision: LlamaModel.ActivationPrecision) throws {
        let file = try TestResources.requireModel()
        let model = try LlamaModel(file: file, activations: precision)
        let fixture = try TestResources.decode(GreedyFixture.self, "forward/smollm2-llama-greedy.json")
        #expect(fixture.cases.count >= 5)
        var report: [String] = []
        for c in fixture.cases {
            let ours = greedy(model, prompt: c.prompt_ids, steps: c.completion_ids.count, eos: file.tokenizer.vocabulary.eos)
            let agree = zip(ours, c.completion_ids).prefix { $0 == $1 }.count
            let margins = c.completion_top_logprobs.map { $0[0][1] - $0[1][1] }
            let confident = margins.firstIndex { $0 < 0.5 } ?? margins.count
            #expect(agree >= confident, "\(c.name): agree on \(agree) tokens, llama.cpp is confident for \(confident)")
            report.append("\(c.name) \(agree)/\(c.completion_ids.count) (confident \(confident))")
        }
        print("greedy agreement with llama.cpp, \(precision) activations: " + report.joined(separator: ", "))
    }

    /// Exact float activations with an f32 cache must match the float64
    /// reference within 1e-3 (relative L2 over the logits); the f16 cache and
    /// 8-bit activations are reported with their error.
    @Test func logitsMatchNumpyReference() throws {
        let file = try TestResources.requireModel()
        let fixture = try TestResources.decode(LogitsFixture.self, "forward/smollm2-reference-logits.json")
        let data = try Data(contentsOf: TestResources.fixture("forward/" + fixture.logits_file))
        let reference: [Float] = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        for (k, position) in fixture.positions.enumerated() {
            let expected = Array(reference[(k * fixture.n_vocab)..<((k + 1) * fixture.n_vocab)])
            for precision in LlamaModel.ActivationPrecision.allCases {
            let model = try LlamaModel(file: file, activations: precision)
            for type in KVElementType.allCases {
                let cache = KVArena(hyperparameters: model.hyperparameters, elementType: type, blockSize: 16, blockCount: 1)
                let logits = model.forward([ForwardSequence(tokens: Array(fixture.prompt_ids[...position]), startPosition: 0, blockTable: [0])], cache: cache)[0]!
                var difference: Float = 0, norm: Float = 0
                for i in logits.indices {
                    difference += (logits[i] - expected[i]) * (logits[i] - expected[i])
                    norm += expected[i] * expected[i]
                }
                let relative = (difference / norm).squareRoot()
                print("logits at position \(position), \(precision) activations, \(type) cache: relative error \(relative)")
                if precision == .float && type == .f32 { #expect(relative < 1e-3) }
                // The argmax is the reference's wherever it is not a near tie.
                #expect(argmax(logits) == argmax(expected))
            }
            }
        }
    }
}
