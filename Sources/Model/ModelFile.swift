/// Everything kvserve reads from a model's GGUF file before running it: the
/// mapped tensors, the hyperparameters, the tokenizer and the chat template.
/// Loading fails with a descriptive error if any of them is unusable.
public struct ModelFile: Sendable {
    public let gguf: GGUFFile
    public let hyperparameters: ModelHyperparameters
    public let tokenizer: Tokenizer
    public let chatTemplate: ChatTemplate

    public init(path: String) throws {
        try self.init(gguf: GGUFFile(path: path))
    }

    public init(gguf: GGUFFile) throws {
        self.gguf = gguf
        hyperparameters = try ModelHyperparameters(gguf)
        tokenizer = try Tokenizer(gguf)
        chatTemplate = try ChatTemplate(model: gguf)
    }
}

extension GGUFFile {
    /// Total number of weights over all tensors.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }

    /// How many tensors have each element type.
    public var tensorTypeCounts: [(type: TensorType, count: Int)] {
        Dictionary(grouping: tensors, by: \.type)
            .map { ($0.key, $0.value.count) }
            .sorted { $0.type.id < $1.type.id }
    }
}
