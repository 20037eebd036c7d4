import Foundation

/// Gemma 3 (`general.architecture = gemma3`). Its differences from LLaMA,
/// from Google's published description (the file states only some of them):
/// - token embeddings are scaled by sqrt(width);
/// - queries and keys are RMS-normalised per head before RoPE, which pairs
///   dimension i with i + d/2;
/// - each block's attention and feed-forward outputs are RMS-normalised
///   before they join the residual stream;
/// - the feed-forward is GELU-gated (tanh approximation);
/// - five local layers to each global one (every sixth, counting from 1):
///   local layers attend to the last `sliding_window` positions with RoPE
///   base 10,000, global ones to all positions with the file's base.
/// The file's norm weights already include Gemma's "1 +" offset.
enum Gemma3 {
    /// Layers l with (l + 1) % globalLayerPeriod == 0 attend globally.
    static let globalLayerPeriod = 6
    static let localRopeBase: Float = 10_000

    static func weights(_ reader: DecoderTensorReader) throws -> DecoderWeights {
        let h = reader.hyperparameters
        guard let window = h.slidingWindow else {
            throw GGUFError.missingKey("gemma3.attention.sliding_window")
        }
        let (embedding, output) = try reader.embeddingAndOutput()
        let global = DecoderTensorReader.inverseFrequencies(base: h.ropeFreqBase, dimensions: h.ropeDimensionCount)
        let local = DecoderTensorReader.inverseFrequencies(base: localRopeBase, dimensions: h.ropeDimensionCount)
        try reader.requireInEveryLayer(["attn_q_norm.weight", "attn_k_norm.weight", "post_attention_norm.weight",
                                        "post_ffw_norm.weight"])
        let layers = try (0..<h.blockCount).map { i in
            let isGlobal = (i + 1) % globalLayerPeriod == 0
            return try reader.layer(i, inverseFrequencies: isGlobal ? global : local, window: isGlobal ? nil : window)
        }
        return DecoderWeights(
            recipe: DecoderRecipe(embeddingScale: Float(h.embeddingLength).squareRoot(), rotaryPairing: .halves,
                                  gateActivation: .geluTanh),
            embedding: embedding, output: output,
            outputNorm: try reader.vector("output_norm.weight", count: h.embeddingLength), layers: layers)
    }
}
