import KVCache
import KVDisk
import Model

/// A decoder model (any architecture `DecoderModel` runs: `llama`,
/// `gemma3`) with its K/V arena.
public final class PagedDecoderModel: PagedModel {
    public let model: DecoderModel
    public let arena: KVArena

    public init(model: DecoderModel, arena: KVArena) {
        self.model = model
        self.arena = arena
    }

    /// The arena of as many whole blocks as `kvCacheBytes` holds, made once:
    /// the pool never grows past its budget. Throws `KVTypeUnsupported` when
    /// the model's head dimension does not suit the element type (q8_0
    /// needs whole 32-dimension groups), `KVBudgetError` when no block fits.
    public convenience init(model: DecoderModel, kvCacheBytes: Int, blockSize: Int, elementType: KVElementType) throws {
        let h = model.hyperparameters
        try elementType.requireSupported(headDimension: h.headDimension)
        let geometry = Self.geometry(h, blockSize: blockSize, elementType: elementType)
        let blocks = geometry.blockCount(budget: kvCacheBytes)
        guard blocks > 0 else { throw KVBudgetError(budget: kvCacheBytes, bytesPerBlock: geometry.bytesPerBlock) }
        self.init(model: model, arena: KVArena(hyperparameters: model.hyperparameters, elementType: elementType,
                                               blockSize: blockSize, blockCount: blocks))
    }

    public static func geometry(_ h: ModelHyperparameters, blockSize: Int, elementType: KVElementType) -> KVGeometry {
        KVGeometry(layers: h.blockCount, kvHeads: h.headCountKV, headDimension: h.headDimension,
                   bytesPerVector: elementType.bytesPerVector(headDimension: h.headDimension), blockSize: blockSize)
    }

    public var contextLength: Int { model.hyperparameters.contextLength }
    public var blockSize: Int { arena.blockSize }
    public var blockCount: Int { arena.blockCount }
    public func forward(_ batch: [ForwardSequence]) -> [[Float]?] { model.forward(batch, cache: arena) }
    public var blockMemory: (any KVBlockMemory)? { arena }
    public var kvElementType: KVElementType { arena.elementType }
}

/// A K/V budget too small for a single block.
public struct KVBudgetError: Error, CustomStringConvertible {
    public let budget: Int
    public let bytesPerBlock: Int
    public var description: String {
        "kv_cache_bytes (\(budget)) is smaller than one block of keys and values (\(bytesPerBlock) bytes for this model and block_size)"
    }
}
