import Foundation

/// Qwen2 and Qwen2.5 (`general.architecture = qwen2`): LLaMA's block with
/// biases added to Q, K and V after their products, and RoPE on halves
/// (dimension i with i + d/2) rather than on adjacent pairs
/// (scripts/fixtures/MODEL-FAMILIES.md has the facts and their sources).
enum Qwen2 {
    static func weights(_ reader: DecoderTensorReader) throws -> DecoderWeights {
        try reader.requireInEveryLayer(["attn_q.bias", "attn_k.bias", "attn_v.bias"])
        return try reader.globalAttentionWeights(pairing: .halves)
    }
}
