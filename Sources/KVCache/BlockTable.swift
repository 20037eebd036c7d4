/// One sequence's place in the cache: its token ids, the blocks that hold
/// their keys and values, and how far they have been computed.
///
/// Invariants: `computed <= tokens.count`; `blocks.count * blockSize >=
/// computed`; `chainHashes[i]` is the hash of the chain of tokens ending with
/// block i, for the leading full blocks whose hash is known; the first
/// `indexed` blocks have been offered to the prefix index.
public struct BlockTable: Sendable, Equatable {
    /// Every token of the sequence: history, prompt and what was generated.
    public internal(set) var tokens: [Int32]
    /// Block i holds positions i*blockSize ..< (i+1)*blockSize.
    public internal(set) var blocks: [BlockPool.Block] = []
    /// Positions whose keys and values are written.
    public internal(set) var computed = 0
    /// Chain hashes of the leading full blocks, as far as they are known.
    public internal(set) var chainHashes: [UInt64] = []
    /// Leading blocks already offered to the prefix index.
    public internal(set) var indexed = 0
    /// The parent hash of block 0: a salt that keeps one tenant's chains
    /// apart from another's (0 when the cache is shared).
    public let root: UInt64

    public init(tokens: [Int32], chainHashes: [UInt64] = [], root: UInt64 = 0) {
        self.tokens = tokens
        self.chainHashes = chainHashes
        self.root = root
    }

    /// The parent hash of block `i`'s chain (known for `i <= chainHashes.count`).
    func parent(ofBlock i: Int) -> UInt64 { i == 0 ? root : chainHashes[i - 1] }

    /// Positions still to compute before the next token can be sampled.
    public var pending: Int { tokens.count - computed }
}
