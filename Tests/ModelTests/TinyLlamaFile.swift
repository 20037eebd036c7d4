import Foundation
@testable import Model

/// A complete `llama` (or `phi3`) GGUF file small enough to build in a test: one layer,
/// width 32, two heads of 16 dimensions, one key/value head, a ten-token
/// SentencePiece vocabulary, F32 weights from a seeded generator. Extra
/// tensors and metadata can be added to see what the loader makes of them.
struct TinyLlamaFile {
    static let width = 32, heads = 2, headDimension = 16, feedForward = 32
    static let tokens = ["<unk>", "<s>", "</s>", "a", "b", "c", "d", "e", "f", "g"]

    var seed: UInt64 = 1
    /// `general.architecture`; its keys are written under this name.
    var architecture = "llama"
    /// How Q/K/V and gate/up are stored: separate tensors, or fused as phi3
    /// stores them (`attn_qkv` rows Q, K, V; `ffn_up` rows gate, then up),
    /// each with the same values as the separate ones.
    var fusedQKV = false
    var fusedGateUp = false
    var extraMetadata: [(String, GGUFBuilder.Value)] = []
    var extraTensors: [(name: String, values: [Float])] = []

    func build() -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        func random(_ count: Int, scale: Float) -> [Float] {
            (0..<count).map { _ in (Float(rng.next() % 2001) / 1000 - 1) * scale }
        }
        func tensor(_ name: String, _ values: [Float], dims: [Int]) -> GGUFBuilder.Tensor {
            GGUFBuilder.Tensor(name: name, dims: dims.map(UInt64.init), type: 0,
                               data: values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { [UInt8]($0) } })
        }
        let w = Self.width, kv = Self.headDimension, ffn = Self.feedForward, vocab = Self.tokens.count, a = architecture
        var b = GGUFBuilder()
        b.metadata = [
            ("general.architecture", .string(architecture)),
            ("\(a).context_length", .uint32(256)),
            ("\(a).embedding_length", .uint32(UInt32(w))),
            ("\(a).feed_forward_length", .uint32(UInt32(ffn))),
            ("\(a).block_count", .uint32(1)),
            ("\(a).attention.head_count", .uint32(UInt32(Self.heads))),
            ("\(a).attention.head_count_kv", .uint32(1)),
            ("\(a).attention.layer_norm_rms_epsilon", .float32(1e-5)),
            ("\(a).rope.freq_base", .float32(10_000)),
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.tokens", .array(typeID: 8, Self.tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(typeID: 5, Self.tokens.indices.map { .int32($0 < 3 ? 3 : 1) })),
            ("tokenizer.ggml.bos_token_id", .uint32(1)),
            ("tokenizer.ggml.eos_token_id", .uint32(2)),
        ] + extraMetadata
        // GGUF dims are [columns, rows].
        let embedding = random(vocab * w, scale: 1), outputNorm = random(w, scale: 0.1).map { 1 + $0 }
        let attentionNorm = random(w, scale: 0.1).map { 1 + $0 }
        let q = random(w * w, scale: 0.5), k = random(kv * w, scale: 0.5), v = random(kv * w, scale: 0.5)
        let o = random(w * w, scale: 0.5), ffnNorm = random(w, scale: 0.1).map { 1 + $0 }
        let gate = random(ffn * w, scale: 0.5), up = random(ffn * w, scale: 0.5), down = random(w * ffn, scale: 0.5)
        let qkv = fusedQKV ? [tensor("blk.0.attn_qkv.weight", q + k + v, dims: [w, w + 2 * kv])]
            : [tensor("blk.0.attn_q.weight", q, dims: [w, w]), tensor("blk.0.attn_k.weight", k, dims: [w, kv]),
               tensor("blk.0.attn_v.weight", v, dims: [w, kv])]
        let gateUp = fusedGateUp ? [tensor("blk.0.ffn_up.weight", gate + up, dims: [w, 2 * ffn])]
            : [tensor("blk.0.ffn_gate.weight", gate, dims: [w, ffn]), tensor("blk.0.ffn_up.weight", up, dims: [w, ffn])]
        b.tensors = [
            tensor("token_embd.weight", embedding, dims: [w, vocab]),
            tensor("output_norm.weight", outputNorm, dims: [w]),
            tensor("blk.0.attn_norm.weight", attentionNorm, dims: [w]),
        ] + qkv + [
            tensor("blk.0.attn_output.weight", o, dims: [w, w]),
            tensor("blk.0.ffn_norm.weight", ffnNorm, dims: [w]),
        ] + gateUp + [
            tensor("blk.0.ffn_down.weight", down, dims: [ffn, w]),
        ] + extraTensors.map { tensor($0.name, $0.values, dims: [$0.values.count]) }
        return b.build()
    }

    /// The file parsed and loaded as kvserve loads a model, float activations.
    func model() throws -> DecoderModel {
        try DecoderModel(file: ModelFile(gguf: GGUFBuilder.parse(build())), activations: .float)
    }
}
