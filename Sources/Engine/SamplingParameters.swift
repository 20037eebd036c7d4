/// How the next token is chosen from the logits. Defaults are the API's
/// (docs/api.md, "Native"): temperature 0 means greedy.
public struct SamplingParameters: Sendable, Equatable {
    public var temperature: Float = 0.8
    public var topK: Int = 40
    public var topP: Float = 0.95
    public var minP: Float = 0.05
    public var repeatPenalty: Float = 1.0
    /// OpenAI's penalties: minus `presencePenalty` for every token seen, and
    /// minus `frequencyPenalty` per time it was seen.
    public var presencePenalty: Float = 0
    public var frequencyPenalty: Float = 0
    public var seed: UInt64? = nil

    public init() {}

    public var isGreedy: Bool { temperature == 0 }
}
