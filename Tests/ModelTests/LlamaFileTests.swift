import Foundation
import Testing
@testable import Model

/// What a `llama` file may hold beyond SmolLM2's tensors: Llama 3.1/3.2's
/// RoPE frequency factors (`rope_freqs.weight`) are applied, and whatever
/// kvserve would leave out is refused by name (a tensor no forward pass
/// reads, a RoPE scaling it does not apply), never silently ignored.
@Suite struct LlamaFileTests {
    static let factors: [Float] = [1, 1, 1.5, 2, 4, 8, 8, 32]  // head dimension 16: 8 pairs

    func logits(_ model: DecoderModel, _ tokens: [TokenID]) -> [Float] {
        let arena = KVArena(hyperparameters: model.hyperparameters, elementType: .f32, blockSize: 16, blockCount: 2)
        return model.forward([ForwardSequence(tokens: tokens, startPosition: 0, blockTable: [0, 1])], cache: arena)[0]!
    }

    /// Pair i turns by position x base^(-2i/d) / factor_i (the rule of
    /// Meta's Llama 3.1 reference, which llama.cpp applies as theta / factor),
    /// computed here in Double.
    @Test func ropeFrequencyFactorsDivideTheFrequencies() throws {
        let model = try TinyLlamaFile(extraTensors: [("rope_freqs.weight", Self.factors)]).model()
        let d = Double(TinyLlamaFile.headDimension)
        for (i, got) in model.layers[0].inverseFrequencies.enumerated() {
            let expected = pow(10_000, -2 * Double(i) / d) / Double(Self.factors[i])
            #expect(abs(Double(got) - expected) <= 1e-6 * expected, "pair \(i): \(got) vs \(expected)")
        }
    }

    /// Factors of 1 change nothing, bit for bit; other factors change every
    /// position but the first, where every rotation is the identity.
    @Test func factorsReachTheLogitsFromTheSecondPosition() throws {
        let plain = try TinyLlamaFile().model()
        let ones = try TinyLlamaFile(extraTensors: [("rope_freqs.weight", [Float](repeating: 1, count: 8))]).model()
        let scaled = try TinyLlamaFile(extraTensors: [("rope_freqs.weight", Self.factors)]).model()
        let prompt: [TokenID] = [1, 3, 4, 5, 6, 7]
        #expect(logits(ones, prompt) == logits(plain, prompt))
        #expect(logits(scaled, [1]) == logits(plain, [1]))
        for end in 2...prompt.count {
            #expect(logits(scaled, Array(prompt.prefix(end))) != logits(plain, Array(prompt.prefix(end))), "\(end) tokens")
        }
    }

    /// A Mixtral-style file (`llama` with a mixture of experts) has a router
    /// per layer; run without it, it would be another model.
    @Test func aTensorNoForwardPassReadsIsRefusedByName() throws {
        let file = TinyLlamaFile(extraTensors: [("blk.0.ffn_gate_inp.weight", [Float](repeating: 0.5, count: TinyLlamaFile.width))])
        #expect {
            _ = try file.model()
        } throws: { error in
            guard case let GGUFError.badTensor(name, reason) = error else { return false }
            return name == "blk.0.ffn_gate_inp.weight" && reason.contains("does not use")
        }
        _ = try TinyLlamaFile().model()  // the same file without it loads
    }

    @Test func aFactorThatIsNotAPositiveNumberIsRefused() throws {
        for bad: Float in [0, -1, .nan, .infinity] {
            var factors = Self.factors
            factors[3] = bad
            #expect(throws: GGUFError.badTensor(name: "rope_freqs.weight", reason: "a frequency factor is not a positive number")) {
                _ = try TinyLlamaFile(extraTensors: [("rope_freqs.weight", factors)]).model()
            }
        }
    }

    @Test func ropeScalingKvserveDoesNotApplyIsRefusedNamingTheKey() throws {
        for kind in ["linear", "yarn"] {
            let file = TinyLlamaFile(extraMetadata: [("llama.rope.scaling.type", .string(kind)), ("llama.rope.scaling.factor", .float32(4))])
            #expect {
                _ = try file.model()
            } throws: { error in
                guard case let GGUFError.valueOutOfRange(key, reason) = error else { return false }
                return key == "llama.rope.scaling.type" && reason.contains(kind)
            }
        }
        _ = try TinyLlamaFile(extraMetadata: [("llama.rope.scaling.type", .string("none"))]).model()
    }
}
