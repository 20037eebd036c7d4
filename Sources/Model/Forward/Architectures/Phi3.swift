import Foundation

/// Phi-3, Phi-3.5 and Phi-4-mini (`general.architecture = phi3`): LLaMA's
/// block with Q, K and V in one tensor (`attn_qkv`, rows Q then K then V)
/// and the gate and up projections in one (`ffn_up`, gate rows first), RoPE
/// on halves of the first `rope.dimension_count` dimensions of each head
/// (Phi-4-mini rotates 96 of 128), and LongRoPE where the file has its
/// factors (scripts/fixtures/MODEL-FAMILIES.md has the facts and sources).
///
/// The file's `sliding_window` is not applied: llama.cpp runs every phi3
/// layer over the whole context, and kvserve's replies are checked against
/// it.
enum Phi3 {
    static func weights(_ reader: DecoderTensorReader) throws -> DecoderWeights {
        try reader.globalAttentionWeights(pairing: .halves, inverseFrequencies: inverseFrequencies(reader),
                                          gateUp: .fusedInUp)
    }

    /// LongRoPE: `rope_factors_long` stretch the low frequencies for contexts
    /// beyond the original one, `rope_factors_short` serve within it. Which
    /// one applies follows from the context the model is served with (the
    /// file's whole context, as llama.cpp does for a context that size),
    /// not from a prompt's length, so a conversation's cached keys stay
    /// valid as it grows.
    static func inverseFrequencies(_ reader: DecoderTensorReader) throws -> [Float] {
        let h = reader.hyperparameters
        let long = try reader.ropeFactors("rope_factors_long.weight")
        let short = try reader.ropeFactors("rope_factors_short.weight")
        switch (long, short) {
        case (nil, nil):
            return reader.inverseFrequencies(factors: nil)
        case let (long?, short?):
            let key = "phi3.rope.scaling.original_context_length"
            let original = try reader.file.gguf.optionalInt(key, in: 1...(1 << 24)) ?? h.contextLength
            return reader.inverseFrequencies(factors: h.contextLength > original ? long : short)
        default:
            throw GGUFError.missingTensor(long == nil ? "rope_factors_long.weight" : "rope_factors_short.weight")
        }
    }
}
