import Foundation
@testable import Model

/// A complete `llama` GGUF file small enough to build in a test: one layer,
/// width 32, two heads of 16 dimensions, one key/value head, a ten-token
/// SentencePiece vocabulary, F32 weights from a seeded generator. Extra
/// tensors and metadata can be added to see what the loader makes of them.
struct TinyLlamaFile {
    static let width = 32, heads = 2, headDimension = 16, feedForward = 32
    static let tokens = ["<unk>", "<s>", "</s>", "a", "b", "c", "d", "e", "f", "g"]

    var seed: UInt64 = 1
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
        let w = Self.width, kv = Self.headDimension, ffn = Self.feedForward, vocab = Self.tokens.count
        var b = GGUFBuilder()
        b.metadata = [
            ("general.architecture", .string("llama")),
            ("llama.context_length", .uint32(256)),
            ("llama.embedding_length", .uint32(UInt32(w))),
            ("llama.feed_forward_length", .uint32(UInt32(ffn))),
            ("llama.block_count", .uint32(1)),
            ("llama.attention.head_count", .uint32(UInt32(Self.heads))),
            ("llama.attention.head_count_kv", .uint32(1)),
            ("llama.attention.layer_norm_rms_epsilon", .float32(1e-5)),
            ("llama.rope.freq_base", .float32(10_000)),
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.tokens", .array(typeID: 8, Self.tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(typeID: 5, Self.tokens.indices.map { .int32($0 < 3 ? 3 : 1) })),
            ("tokenizer.ggml.bos_token_id", .uint32(1)),
            ("tokenizer.ggml.eos_token_id", .uint32(2)),
        ] + extraMetadata
        // GGUF dims are [columns, rows].
        b.tensors = [
            tensor("token_embd.weight", random(vocab * w, scale: 1), dims: [w, vocab]),
            tensor("output_norm.weight", random(w, scale: 0.1).map { 1 + $0 }, dims: [w]),
            tensor("blk.0.attn_norm.weight", random(w, scale: 0.1).map { 1 + $0 }, dims: [w]),
            tensor("blk.0.attn_q.weight", random(w * w, scale: 0.5), dims: [w, w]),
            tensor("blk.0.attn_k.weight", random(kv * w, scale: 0.5), dims: [w, kv]),
            tensor("blk.0.attn_v.weight", random(kv * w, scale: 0.5), dims: [w, kv]),
            tensor("blk.0.attn_output.weight", random(w * w, scale: 0.5), dims: [w, w]),
            tensor("blk.0.ffn_norm.weight", random(w, scale: 0.1).map { 1 + $0 }, dims: [w]),
            tensor("blk.0.ffn_gate.weight", random(ffn * w, scale: 0.5), dims: [w, ffn]),
            tensor("blk.0.ffn_up.weight", random(ffn * w, scale: 0.5), dims: [w, ffn]),
            tensor("blk.0.ffn_down.weight", random(w * ffn, scale: 0.5), dims: [ffn, w]),
        ] + extraTensors.map { tensor($0.name, $0.values, dims: [$0.values.count]) }
        return b.build()
    }

    /// The file parsed and loaded as kvserve loads a model, float activations.
    func model() throws -> DecoderModel {
        try DecoderModel(file: ModelFile(gguf: GGUFBuilder.parse(build())), activations: .float)
    }
}
