import Foundation

/// Qwen3 dense models (`general.architecture = qwen3`): LLaMA's block with
/// queries and keys RMS-normalised per head (`attn_q_norm`, `attn_k_norm`)
/// before RoPE on halves, no biases, and a head dimension of its own
/// (`qwen3.attention.key_length`, so the query width need not be the
/// model's width) (scripts/fixtures/MODEL-FAMILIES.md).
enum Qwen3 {
    static func weights(_ reader: DecoderTensorReader) throws -> DecoderWeights {
        try reader.requireInEveryLayer(["attn_q_norm.weight", "attn_k_norm.weight"])
        return try reader.globalAttentionWeights(pairing: .halves)
    }
}
