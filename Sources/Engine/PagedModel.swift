import KVCache
import KVDisk
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
    /// The K/V memory as bytes per block, for a disk tier (nil: none possible).
    var blockMemory: (any KVBlockMemory)? { get }
}

extension PagedModel {
    public var blockMemory: (any KVBlockMemory)? { nil }
}


/// A LLaMA-family model with its K/V arena.
public final class LlamaPagedModel: PagedModel {
    public let model: DecoderModel
    public let arena: KVArena

    public init(model: DecoderModel, arena: KVArena) {
        self.model = model
        self.arena = arena
    }

    /// The arena of as many whole blocks as `kvCacheBytes` holds, made once:
    /// the pool never grows past its budget.
    public convenience init(model: DecoderModel, kvCacheBytes: Int, blockSize: Int, elementType: KVElementType) throws(KVBudgetError) {
        let geometry = Self.geometry(model.hyperparameters, blockSize: blockSize, elementType: elementType)
        let blocks = geometry.blockCount(budget: kvCacheBytes)
        guard blocks > 0 else { throw KVBudgetError(budget: kvCacheBytes, bytesPerBlock: geometry.bytesPerBlock) }
        self.init(model: model, arena: KVArena(hyperparameters: model.hyperparameters, elementType: elementType,
                                               blockSize: blockSize, blockCount: blocks))
    }

    public static func geometry(_ h: ModelHyperparameters, blockSize: Int, elementType: KVElementType) -> KVGeometry {
        KVGeometry(layers: h.blockCount, kvHeads: h.headCountKV, headDimension: h.headDimension,
                   bytesPerElement: elementType.byteCount, blockSize: blockSize)
    }

    public var contextLength: Int { model.hyperparameters.contextLength }
    public var blockSize: Int { arena.blockSize }
    public var blockCount: Int { arena.blockCount }
    public func forward(_ batch: [ForwardSequence]) -> [[Float]?] { model.forward(batch, cache: arena) }
    public var blockMemory: (any KVBlockMemory)? { arena }
}

/// A K/V budget too small for a single block.
public struct KVBudgetError: Error, CustomStringConvertible {
    public let budget: Int
    public let bytesPerBlock: Int
    public var description: String {
        "kv_cache_bytes (\(budget)) is smaller than one block of keys and values (\(bytesPerBlock) bytes for this model and block_size)"
    }
}
