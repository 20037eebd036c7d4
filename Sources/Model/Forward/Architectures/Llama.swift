import Foundation

/// The LLaMA family (SmolLM2, Llama 2/3, Mistral, Qwen2-like files with
/// `general.architecture = llama`): per layer
/// x += Wo·attention(RoPE(Wq·norm(x)), K, V) and x += Wdown·(silu(Wgate·n) * Wup·n)
/// with n = norm(x); RoPE on adjacent pairs (the converter permutes Q and K
/// rows for it), its frequencies divided by `rope_freqs.weight` where the
/// file has one (Llama 3.1, 3.2); every layer attends to every position.
enum Llama {
    static func weights(_ reader: DecoderTensorReader) throws -> DecoderWeights {
        try reader.globalAttentionWeights(pairing: .adjacent,
                                          inverseFrequencies: reader.inverseFrequencies(factors: reader.ropeFactors("rope_freqs.weight")))
    }
}
