/// The size of K/V storage for one model: what a token and a block cost.
/// Each position holds one key and one value vector per KV head per layer:
/// 2 * layers * kvHeads * headDim elements. Plain numbers: the cache's
/// accounting never needs to know what the elements are.
public struct KVGeometry: Sendable, Equatable {
    public let layers: Int
    public let kvHeads: Int
    public let headDimension: Int
    public let bytesPerElement: Int
    /// Token positions per block.
    public let blockSize: Int

    public init(layers: Int, kvHeads: Int, headDimension: Int, bytesPerElement: Int, blockSize: Int) {
        precondition(layers > 0 && kvHeads > 0 && headDimension > 0 && bytesPerElement > 0 && blockSize > 0)
        self.layers = layers
        self.kvHeads = kvHeads
        self.headDimension = headDimension
        self.bytesPerElement = bytesPerElement
        self.blockSize = blockSize
    }

    public var bytesPerToken: Int { 2 * layers * kvHeads * headDimension * bytesPerElement }
    public var bytesPerBlock: Int { bytesPerToken * blockSize }

    /// Whole blocks that fit in `budget` bytes.
    public func blockCount(budget: Int) -> Int { max(0, budget) / bytesPerBlock }
}
