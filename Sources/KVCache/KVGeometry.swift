/// The size of K/V storage for one model: what a token and a block cost.
/// Each position holds one key and one value vector per KV head per layer:
/// 2 * layers * kvHeads vectors of `bytesPerVector` bytes. Plain numbers: the
/// cache's accounting never needs to know what the elements are, only what
/// a vector costs (which, for a quantized type, includes its scales: q8_0
/// takes 34 bytes per 32 dimensions, not a whole number per element).
public struct KVGeometry: Sendable, Equatable {
    public let layers: Int
    public let kvHeads: Int
    public let headDimension: Int
    /// Bytes of one position's key (or value) vector of one head.
    public let bytesPerVector: Int
    /// Token positions per block.
    public let blockSize: Int

    public init(layers: Int, kvHeads: Int, headDimension: Int, bytesPerVector: Int, blockSize: Int) {
        precondition(layers > 0 && kvHeads > 0 && headDimension > 0 && bytesPerVector > 0 && blockSize > 0)
        self.layers = layers
        self.kvHeads = kvHeads
        self.headDimension = headDimension
        self.bytesPerVector = bytesPerVector
        self.blockSize = blockSize
    }

    public var bytesPerToken: Int { 2 * layers * kvHeads * bytesPerVector }
    public var bytesPerBlock: Int { bytesPerToken * blockSize }

    /// Whole blocks that fit in `budget` bytes.
    public func blockCount(budget: Int) -> Int { max(0, budget) / bytesPerBlock }
}
