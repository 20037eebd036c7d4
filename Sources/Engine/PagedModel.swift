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
    /// How the K/V memory stores keys and values: part of every block's
    /// chain hash (`KVElementType.chainTag`).
    var kvElementType: KVElementType { get }
}

extension PagedModel {
    public var blockMemory: (any KVBlockMemory)? { nil }
    public var kvElementType: KVElementType { .f16 }
}
