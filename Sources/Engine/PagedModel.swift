import Model

/// What the engine needs of a model: a batched forward pass that reads and
/// writes keys and values through block tables, into a K/V memory of
/// `blockCount` blocks of `blockSize` positions that it owns.
public protocol PagedModel: AnyObject {
    var contextLength: Int { get }
    var blockSize: Int { get }
    var blockCount: Int { get }
    /// For each sequence, the logits of its last token (nil where not wanted).
    func forward(_ batch: [ForwardSequence]) -> [[Float]?]
}

/// A LLaMA-family model with its K/V arena.
public final class LlamaPagedModel: PagedModel {
    public let model: LlamaModel
    public let arena: KVArena

    public init(model: LlamaModel, arena: KVArena) {
        self.model = model
        self.arena = arena
    }

    public var contextLength: Int { model.hyperparameters.contextLength }
    public var blockSize: Int { arena.blockSize }
    public var blockCount: Int { arena.blockCount }
    public func forward(_ batch: [ForwardSequence]) -> [[Float]?] { model.forward(batch, cache: arena) }
}
