import Foundation
import Testing
@testable import Model

/// What is phi3's own, on files built in the test: fused projections are
/// the separate ones stored together, LongRoPE's factor tables come as a
/// pair and its attn_factor scales the rotated components, and phi3's
/// "no sliding window" (0) loads. Agreement with llama.cpp and a float64
/// pass on real-shaped files is FamilyParityTests'.
@Suite struct Phi3FileTests {
    func logits(_ model: DecoderModel, _ tokens: [TokenID]) -> [Float] {
        let arena = KVArena(hyperparameters: model.hyperparameters, elementType: .f32, blockSize: 16, blockCount: 2)
        return model.forward([ForwardSequence(tokens: tokens, startPosition: 0, blockTable: [0, 1])], cache: arena)[0]!
    }

    static let prompt: [TokenID] = [1, 3, 4, 5, 6, 7]

    /// `attn_qkv` is Q's rows, then K's, then V's: split so, it computes
    /// exactly what the three tensors compute.
    @Test func aFusedQKVIsTheSeparateProjectionsBitForBit() throws {
        let fused = try TinyLlamaFile(architecture: "phi3", fusedQKV: true, fusedGateUp: true).model()
        let separate = try TinyLlamaFile(architecture: "phi3", fusedQKV: false, fusedGateUp: true).model()
        #expect(logits(fused, Self.prompt) == logits(separate, Self.prompt))
    }

    /// Swapping the halves of `ffn_up` (up first, then gate) is another
    /// model: the order is read, not assumed symmetric.
    @Test func theGateIsTheFirstHalfOfFFNUp() throws {
        let file = TinyLlamaFile(architecture: "phi3", fusedQKV: true, fusedGateUp: true)
        let model = try file.model()
        let layer = model.layers[0]
        let ffn = TinyLlamaFile.feedForward, w = TinyLlamaFile.width
        var gateRow = [Float](repeating: 0, count: w), upRow = gateRow, fusedRow = gateRow
        let fused = try ModelFile(gguf: GGUFBuilder.parse(file.build())).gguf.tensor(named: "blk.0.ffn_up.weight")!
        let matrix = try WeightMatrix(fused)
        for r in [0, ffn - 1] {
            layer.gate.copyRow(r, into: &gateRow)
            layer.up.copyRow(r, into: &upRow)
            matrix.copyRow(r, into: &fusedRow)
            #expect(gateRow == fusedRow, "gate row \(r)")
            matrix.copyRow(ffn + r, into: &fusedRow)
            #expect(upRow == fusedRow, "up row \(r)")
        }
    }

    /// The converter writes `sliding_window` 0 for a model without one.
    @Test func aSlidingWindowOfZeroMeansNone() throws {
        let model = try TinyLlamaFile(architecture: "phi3", fusedQKV: true, fusedGateUp: true,
                                      extraMetadata: [("phi3.attention.sliding_window", .uint32(0))]).model()
        #expect(model.hyperparameters.slidingWindow == nil)
        #expect(model.layers.allSatisfy { $0.window == nil })
    }

    /// The long factors serve a context beyond the original one (the file's
    /// 256 positions here), the short ones a context within it.
    @Test func longRoPEPicksItsFactorsByTheServedContext() throws {
        let long: [Float] = [1, 1, 2, 2, 4, 4, 8, 8], short: [Float] = [1, 1, 1, 1, 2, 2, 2, 2]
        let tables: [(name: String, values: [Float])] = [("rope_factors_long.weight", long), ("rope_factors_short.weight", short)]
        for (original, expected) in [(128, long), (256, short)] {
            let model = try TinyLlamaFile(architecture: "phi3", fusedQKV: true, fusedGateUp: true,
                                          extraMetadata: [("phi3.rope.scaling.original_context_length", .uint32(UInt32(original)))],
                                          extraTensors: tables).model()
            let d = Double(TinyLlamaFile.headDimension)
            for (i, got) in model.layers[0].inverseFrequencies.enumerated() {
                let want = pow(10_000, -2 * Double(i) / d) / Double(expected[i])
                #expect(abs(Double(got) - want) <= 1e-6 * want, "original \(original), pair \(i)")
            }
        }
    }

    @Test func oneLongRoPETableWithoutTheOtherIsRefusedNamingIt() throws {
        let file = TinyLlamaFile(architecture: "phi3", fusedQKV: true, fusedGateUp: true,
                                 extraTensors: [("rope_factors_long.weight", [Float](repeating: 1, count: 8))])
        #expect { try file.model() } throws: { "\($0)".contains("rope_factors_short.weight") }
    }

    /// attn_factor multiplies cos and sin, so it scales the rotated
    /// components of every query and key: a factor of 1 changes nothing,
    /// bit for bit, another changes the logits, and one that is not a
    /// positive number is refused. (Its size is checked against llama.cpp
    /// and the float64 pass on phi3-longrope in FamilyParityTests.)
    @Test func attnFactorScalesTheRotatedComponents() throws {
        let phi3 = TinyLlamaFile(architecture: "phi3", fusedQKV: true, fusedGateUp: true)
        var one = phi3, scaled = phi3
        one.extraMetadata = [("phi3.rope.scaling.attn_factor", .float32(1))]
        scaled.extraMetadata = [("phi3.rope.scaling.attn_factor", .float32(1.25))]
        #expect(logits(try one.model(), Self.prompt) == logits(try phi3.model(), Self.prompt))
        #expect(logits(try scaled.model(), Self.prompt) != logits(try phi3.model(), Self.prompt))
        var bad = phi3
        bad.extraMetadata = [("phi3.rope.scaling.attn_factor", .float32(-1))]
        #expect { try bad.model() } throws: { "\($0)".contains("attn_factor") }
    }
}
