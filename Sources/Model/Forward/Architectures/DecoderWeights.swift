import Foundation

/// What an architecture reads from its file: the weights of a decoder-only
/// transformer and the choices its forward pass makes. `DecoderModel` runs
/// any of them with one pass; an architecture's file says only what is its own.
struct DecoderWeights {
    var recipe: DecoderRecipe
    var embedding: WeightMatrix
    /// The embedding itself when the file ties them.
    var output: WeightMatrix
    var outputNorm: [Float]
    var layers: [DecoderLayer]
}

/// The forward pass's choices that differ between architectures.
struct DecoderRecipe {
    /// How RoPE pairs a head's dimensions.
    enum RotaryPairing {
        /// (x[2i], x[2i+1]): LLaMA, whose converter permutes Q and K rows so.
        case adjacent
        /// (x[i], x[i + d/2]): GPT-NeoX style, Gemma.
        case halves
    }

    /// The gate's nonlinearity in the gated feed-forward: act(gate) * up.
    enum GateActivation {
        /// x * sigmoid(x) (SwiGLU).
        case silu
        /// GELU, tanh approximation (GeGLU).
        case geluTanh
    }

    /// Multiplies token embeddings (Gemma: sqrt(width)); nil for none.
    var embeddingScale: Float?
    var rotaryPairing: RotaryPairing
    var gateActivation: GateActivation
}

/// One transformer block's weights.
struct DecoderLayer {
    let attentionNorm: [Float]
    let query, key, value, attentionOutput: WeightMatrix
    /// Added to Q, K and V right after their products (Qwen2).
    let queryBias, keyBias, valueBias: [Float]?
    /// Per-head RMSNorm weights of queries and keys, applied before RoPE (Gemma 3).
    let queryNorm, keyNorm: [Float]?
    /// RMSNorm of the attention output before it joins the residual stream (Gemma).
    let postAttentionNorm: [Float]?
    let feedForwardNorm: [Float]
    let gate, up, down: WeightMatrix
    /// RMSNorm of the feed-forward output before it joins the residual stream (Gemma).
    let postFeedForwardNorm: [Float]?
    /// base^(-2i/d) for each rotated pair of this layer's RoPE.
    let inverseFrequencies: [Float]
    /// How many of the latest positions a token attends to (itself
    /// included); nil for all of them.
    let window: Int?

    var matrices: [WeightMatrix] { [query, key, value, attentionOutput, gate, up, down] }

    /// The same layer with each matrix replaced by `transform(matrix)`.
    func mapMatrices(_ transform: (WeightMatrix) throws -> WeightMatrix) rethrows -> DecoderLayer {
        DecoderLayer(attentionNorm: attentionNorm, query: try transform(query), key: try transform(key),
                     value: try transform(value), attentionOutput: try transform(attentionOutput),
                     queryBias: queryBias, keyBias: keyBias, valueBias: valueBias,
                     queryNorm: queryNorm, keyNorm: keyNorm, postAttentionNorm: postAttentionNorm,
                     feedForwardNorm: feedForwardNorm, gate: try transform(gate), up: try transform(up),
                     down: try transform(down), postFeedForwardNorm: postFeedForwardNorm,
                     inverseFrequencies: inverseFrequencies, window: window)
    }
}

/// Reads a GGUF file's tensors with the shapes the hyperparameters imply;
/// a missing tensor or a wrong shape is an error naming it. It remembers
/// what it read, so that a tensor no architecture reads (a part of the
/// model kvserve would leave out) is refused by name, never ignored.
struct DecoderTensorReader {
    let file: ModelFile
    private let read = NamesRead()

    init(file: ModelFile) { self.file = file }

    var hyperparameters: ModelHyperparameters { file.hyperparameters }

    /// The names of the tensors read so far (a reference: copies of the reader share it).
    private final class NamesRead: @unchecked Sendable {
        var names: Set<String> = []
    }

    /// The file's tensor `name`, remembered as read; nil if it has none.
    private func tensor(_ name: String) -> GGUFTensor? {
        read.names.insert(name)
        return file.gguf.tensor(named: name)
    }

    private func requireTensor(_ name: String) throws -> GGUFTensor {
        guard let t = tensor(name) else { throw GGUFError.missingTensor(name) }
        return t
    }

    /// Refuses a file with a tensor that nothing read: running without it
    /// would compute another model than the file's.
    func requireEverythingRead() throws {
        if let unread = file.gguf.tensors.map(\.name).filter({ !read.names.contains($0) }).sorted().first {
            throw GGUFError.badTensor(name: unread, reason: "kvserve's \(hyperparameters.architecture) forward pass does not use "
                                      + "this tensor; running without it would compute another model than the file's")
        }
    }

    /// A vector of `count` weights (a norm's), as floats.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let t = try requireTensor(name)
        guard t.elementCount == count else { throw GGUFError.badTensor(name: name, reason: "\(t.elementCount) values, expected \(count)") }
        return try t.dequantized()
    }

    func optionalVector(_ name: String, count: Int) throws -> [Float]? {
        try tensor(name) == nil ? nil : vector(name, count: count)
    }

    func matrix(_ name: String, rows: Int, columns: Int) throws -> WeightMatrix {
        try WeightMatrix(requireTensor(name), rows: rows, columns: columns)
    }

    /// How a family's file stores the feed-forward's gate and up projections.
    enum GateUpLayout {
        /// `ffn_gate` and `ffn_up`.
        case separate
        /// One `ffn_up` of twice the feed-forward's rows: the gate's, then up's (phi3).
        case fusedInUp
    }

    /// Block i's tensors under GGUF's names: those of every architecture,
    /// and the Q/K/V biases, per-head and post-block norms where the file
    /// has them (the architecture says which it requires).
    func layer(_ i: Int, inverseFrequencies: [Float], window: Int?, gateUp: GateUpLayout = .separate) throws -> DecoderLayer {
        let h = hyperparameters, p = "blk.\(i)."
        let dim = h.embeddingLength, hd = h.headDimension, qDim = h.headCount * hd
        let kvDim = h.headCountKV * hd, ffn = h.feedForwardLength
        let (query, key, value) = try attentionProjections(p)
        let (gate, up) = try gateAndUp(p, gateUp)
        return DecoderLayer(
            attentionNorm: try vector(p + "attn_norm.weight", count: dim),
            query: query, key: key, value: value,
            attentionOutput: try matrix(p + "attn_output.weight", rows: dim, columns: qDim),
            queryBias: try optionalVector(p + "attn_q.bias", count: qDim),
            keyBias: try optionalVector(p + "attn_k.bias", count: kvDim),
            valueBias: try optionalVector(p + "attn_v.bias", count: kvDim),
            queryNorm: try optionalVector(p + "attn_q_norm.weight", count: hd),
            keyNorm: try optionalVector(p + "attn_k_norm.weight", count: hd),
            postAttentionNorm: try optionalVector(p + "post_attention_norm.weight", count: dim),
            feedForwardNorm: try vector(p + "ffn_norm.weight", count: dim),
            gate: gate, up: up,
            down: try matrix(p + "ffn_down.weight", rows: dim, columns: ffn),
            postFeedForwardNorm: try optionalVector(p + "post_ffw_norm.weight", count: dim),
            inverseFrequencies: inverseFrequencies, window: window)
    }

    /// Q, K and V of block prefix `p`: three tensors, or one `attn_qkv`
    /// whose rows are Q's, then K's, then V's (any family may be stored so,
    /// as llama.cpp loads it; phi3 is).
    private func attentionProjections(_ p: String) throws -> (WeightMatrix, WeightMatrix, WeightMatrix) {
        let h = hyperparameters, dim = h.embeddingLength
        let qDim = h.headCount * h.headDimension, kvDim = h.headCountKV * h.headDimension
        guard file.gguf.tensor(named: p + "attn_qkv.weight") != nil else {
            return (try matrix(p + "attn_q.weight", rows: qDim, columns: dim),
                    try matrix(p + "attn_k.weight", rows: kvDim, columns: dim),
                    try matrix(p + "attn_v.weight", rows: kvDim, columns: dim))
        }
        let fused = try matrix(p + "attn_qkv.weight", rows: qDim + 2 * kvDim, columns: dim)
        return (fused.rows(0..<qDim, name: fused.name + "[q]"),
                fused.rows(qDim..<(qDim + kvDim), name: fused.name + "[k]"),
                fused.rows((qDim + kvDim)..<(qDim + 2 * kvDim), name: fused.name + "[v]"))
    }

    private func gateAndUp(_ p: String, _ layout: GateUpLayout) throws -> (WeightMatrix, WeightMatrix) {
        let dim = hyperparameters.embeddingLength, ffn = hyperparameters.feedForwardLength
        switch layout {
        case .separate:
            return (try matrix(p + "ffn_gate.weight", rows: ffn, columns: dim), try matrix(p + "ffn_up.weight", rows: ffn, columns: dim))
        case .fusedInUp:
            let fused = try matrix(p + "ffn_up.weight", rows: 2 * ffn, columns: dim)
            return (fused.rows(0..<ffn, name: fused.name + "[gate]"), fused.rows(ffn..<(2 * ffn), name: fused.name + "[up]"))
        }
    }

    /// Weights of the LLaMA-shaped decoders most families are: every layer
    /// attends to every position, with RoPE at `inverseFrequencies` (the
    /// file's base, unscaled, when nil) paired as `pairing`, and a SwiGLU
    /// feed-forward.
    func globalAttentionWeights(pairing: DecoderRecipe.RotaryPairing, inverseFrequencies: [Float]? = nil,
                                gateUp: GateUpLayout = .separate) throws -> DecoderWeights {
        let h = hyperparameters
        let frequencies = inverseFrequencies ?? self.inverseFrequencies(factors: nil)
        let (embedding, output) = try embeddingAndOutput()
        let layers = try (0..<h.blockCount).map { try layer($0, inverseFrequencies: frequencies, window: nil, gateUp: gateUp) }
        return DecoderWeights(recipe: DecoderRecipe(embeddingScale: nil, rotaryPairing: pairing, gateActivation: .silu),
                              embedding: embedding, output: output,
                              outputNorm: try vector("output_norm.weight", count: h.embeddingLength), layers: layers)
    }

    /// An error naming the first `blk.i.<suffix>` the file lacks: tensors
    /// that are optional to the common pass but an architecture's own.
    func requireInEveryLayer(_ suffixes: [String]) throws {
        for i in 0..<hyperparameters.blockCount {
            for suffix in suffixes where file.gguf.tensor(named: "blk.\(i).\(suffix)") == nil {
                throw GGUFError.missingTensor("blk.\(i).\(suffix)")
            }
        }
    }

    /// The token embedding, and the output projection (the embedding when tied).
    func embeddingAndOutput() throws -> (embedding: WeightMatrix, output: WeightMatrix) {
        let dim = hyperparameters.embeddingLength
        let embedding = try WeightMatrix(requireTensor("token_embd.weight"))
        guard embedding.columns == dim else {
            throw GGUFError.badTensor(name: "token_embd.weight", reason: "row length \(embedding.columns), expected \(dim)")
        }
        let output = try tensor("output.weight").map { try WeightMatrix($0, rows: embedding.rows, columns: dim) }
        return (embedding, output ?? embedding)
    }

    /// base^(-2i/d) for the d rotated dimensions of a head.
    static func inverseFrequencies(base: Float, dimensions d: Int) -> [Float] {
        (0..<(d / 2)).map { powf(base, -Float(2 * $0) / Float(d)) }
    }

    /// The file's RoPE frequencies, pair i's divided by `factors[i]` where
    /// given: dividing the angle stretches that pair's wavelength.
    func inverseFrequencies(factors: [Float]?) -> [Float] {
        let frequencies = Self.inverseFrequencies(base: hyperparameters.ropeFreqBase, dimensions: hyperparameters.ropeDimensionCount)
        return factors.map { zip(frequencies, $0).map { $0 / $1 } } ?? frequencies
    }

    /// A RoPE frequency-factor tensor (`rope_freqs.weight` of Llama 3.1 and
    /// later, phi3's `rope_factors_long/short.weight`): one positive factor
    /// per rotated pair; nil when the file has none.
    func ropeFactors(_ name: String) throws -> [Float]? {
        guard let factors = try optionalVector(name, count: hyperparameters.ropeDimensionCount / 2) else { return nil }
        guard factors.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw GGUFError.badTensor(name: name, reason: "a frequency factor is not a positive number")
        }
        return factors
    }
}
