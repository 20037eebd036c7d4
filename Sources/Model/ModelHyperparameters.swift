/// The shape of a decoder-only model, read from `<arch>.*` metadata keys.
/// A missing required key is an error naming it.
public struct ModelHyperparameters: Sendable, Equatable {
    /// Architectures kvserve has a forward pass for (Forward/Architectures).
    public static let supportedArchitectures: Set<String> = ["llama", "gemma3", "qwen2", "qwen3", "phi3"]

    public let architecture: String
    public let contextLength: Int
    public let embeddingLength: Int
    public let feedForwardLength: Int
    public let blockCount: Int
    public let headCount: Int
    public let headCountKV: Int
    public let ropeDimensionCount: Int
    public let ropeFreqBase: Float
    public let rmsNormEpsilon: Float
    /// `<arch>.vocab_size` when present; the tokenizer's size otherwise.
    public let vocabSize: Int?
    /// Dimension of one attention head: `<arch>.attention.key_length`, or the
    /// embedding length shared out between the heads.
    public let headDimension: Int
    /// Positions a sliding-window layer attends to (`<arch>.attention.sliding_window`;
    /// phi3's converter writes 0 for none).
    public let slidingWindow: Int?
    /// Multiplies RoPE's cosines and sines (`<arch>.rope.scaling.attn_factor`,
    /// LongRoPE's magnitude correction; 1 when absent).
    public let ropeAttentionFactor: Float

    /// Query heads sharing one key/value head.
    public var groupSize: Int { headCount / headCountKV }

    public init(_ gguf: GGUFFile) throws {
        let arch = try gguf.string("general.architecture")
        guard Self.supportedArchitectures.contains(arch) else {
            throw GGUFError.valueOutOfRange(
                key: "general.architecture",
                reason: "'\(arch)' is not an architecture kvserve runs (supported: \(Self.supportedArchitectures.sorted().joined(separator: ", ")))")
        }
        architecture = arch
        let big = 1...(1 << 24)
        contextLength = try gguf.int("\(arch).context_length", in: big)
        embeddingLength = try gguf.int("\(arch).embedding_length", in: big)
        feedForwardLength = try gguf.int("\(arch).feed_forward_length", in: big)
        blockCount = try gguf.int("\(arch).block_count", in: 1...4096)
        headCount = try gguf.int("\(arch).attention.head_count", in: 1...4096)
        headCountKV = try gguf.optionalInt("\(arch).attention.head_count_kv", in: 1...4096) ?? headCount
        rmsNormEpsilon = try gguf.float("\(arch).attention.layer_norm_rms_epsilon")
        ropeFreqBase = try gguf.optionalFloat("\(arch).rope.freq_base") ?? 10_000
        vocabSize = try gguf.optionalInt("\(arch).vocab_size", in: big)

        slidingWindow = try gguf.optionalInt("\(arch).attention.sliding_window", in: 0...(1 << 24)).flatMap { $0 == 0 ? nil : $0 }
        ropeAttentionFactor = try gguf.optionalFloat("\(arch).rope.scaling.attn_factor") ?? 1
        guard ropeAttentionFactor.isFinite, ropeAttentionFactor > 0 else {
            throw GGUFError.valueOutOfRange(key: "\(arch).rope.scaling.attn_factor", reason: "\(ropeAttentionFactor) is not a positive number")
        }
        let keyLength = try gguf.optionalInt("\(arch).attention.key_length", in: 1...(1 << 16))
        let valueLength = try gguf.optionalInt("\(arch).attention.value_length", in: 1...(1 << 16))
        guard valueLength == keyLength else {
            throw GGUFError.valueOutOfRange(key: "\(arch).attention.value_length",
                reason: "value length \(valueLength ?? 0) differs from key length \(keyLength ?? 0), which kvserve does not run")
        }
        guard keyLength != nil || embeddingLength % headCount == 0 else {
            throw GGUFError.valueOutOfRange(key: "\(arch).attention.head_count",
                reason: "\(headCount) heads do not divide the embedding length \(embeddingLength)")
        }
        guard headCount % headCountKV == 0 else {
            throw GGUFError.valueOutOfRange(key: "\(arch).attention.head_count_kv",
                reason: "\(headCountKV) key/value heads do not divide \(headCount) query heads")
        }
        let headDim = keyLength ?? embeddingLength / headCount
        headDimension = headDim
        ropeDimensionCount = try gguf.optionalInt("\(arch).rope.dimension_count", in: 2...headDim) ?? headDim
        guard ropeDimensionCount % 2 == 0 else {
            throw GGUFError.valueOutOfRange(key: "\(arch).rope.dimension_count", reason: "\(ropeDimensionCount) is odd")
        }
        // Linear and YaRN scaling change every rotation; a file asking for
        // them would run as another model (Llama 3's factors are a tensor).
        if let scaling = try gguf.optionalString("\(arch).rope.scaling.type"), scaling != "none" {
            throw GGUFError.valueOutOfRange(key: "\(arch).rope.scaling.type",
                reason: "RoPE scaling '\(scaling)' is not one kvserve applies (it applies Llama 3's rope_freqs.weight)")
        }
        guard rmsNormEpsilon > 0, ropeFreqBase > 0 else {
            throw GGUFError.valueOutOfRange(key: "\(arch).attention.layer_norm_rms_epsilon",
                reason: "epsilon and rope.freq_base must be positive")
        }
    }
}
