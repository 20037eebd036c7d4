/// The K/V blocks of one arena, as bookkeeping: who holds each block, which
/// unused blocks still hold a reusable prefix, which are free.
///
/// Invariants (checked by `checkInvariants`):
/// - every block is exactly one of: used (reference count > 0), cached
///   (count 0, holds a registered prefix, in the LRU queue) or free (count 0,
///   on the free list);
/// - used + cached + free = total;
/// - the prefix index maps a hash to a block only while that block still
///   holds the registered contents (eviction removes the entry first);
/// - a partial block (the computed head of a sequence's last block) is
///   indexed by its parent chain only while cached: it is never shared, as
///   whoever adopts it writes on into it (`claim` takes it out of the index).
///
/// Allocation takes the free list first, then evicts the least recently
/// released cached block. All operations are O(1) (the LRU queue is an
/// intrusive doubly linked list over block ids).
public struct BlockPool: Sendable {
    public typealias Block = Int32

    /// What a block holds, as its place in a token chain.
    public struct Contents: Hashable, Sendable {
        /// Hash of the chain up to and including this block.
        public let hash: UInt64
        /// The block's own token ids (checked on lookup, so a hash collision
        /// can never hand out the wrong keys and values).
        public let tokens: [Int32]
        /// Hash of the chain before this block (0 for the first block).
        public let parent: UInt64
        /// Whether the block holds fewer tokens than it has room for.
        public let isPartial: Bool

        public init(hash: UInt64, tokens: [Int32], parent: UInt64, isPartial: Bool = false) {
            self.hash = hash
            self.tokens = tokens
            self.parent = parent
            self.isPartial = isPartial
        }
    }

    public let blockCount: Int
    private var referenceCounts: [Int32]
    private var freeList: [Block]
    private var contents: [Contents?]
    private var index: [UInt64: Block] = [:]
    /// Cached partial blocks by the hash of the chain they continue.
    private var partials: [UInt64: [Block]] = [:]
    /// Cached blocks, least recently released first.
    private var lru: LRUQueue
    public var cachedCount: Int { lru.count }
    public private(set) var evictions = 0
    /// Whether evicted blocks are listed for `takeEvicted` (a disk tier wants
    /// them while their bytes are still intact).
    public var listsEvictions = false
    private var evicted: [(block: Block, contents: Contents)] = []

    public init(blockCount: Int) {
        precondition(blockCount >= 0)
        self.blockCount = blockCount
        referenceCounts = [Int32](repeating: 0, count: blockCount)
        // Popped from the end: block 0 is handed out first.
        freeList = (0..<Block(blockCount)).reversed()
        contents = [Contents?](repeating: nil, count: blockCount)
        lru = LRUQueue(capacity: blockCount)
    }

    public var freeCount: Int { freeList.count }
    public var usedCount: Int { blockCount - freeCount - cachedCount }
    /// Blocks an allocation could take now: free ones and evictable ones.
    public var availableCount: Int { freeCount + cachedCount }

    public func referenceCount(_ block: Block) -> Int { Int(referenceCounts[Int(block)]) }
    public func contents(of block: Block) -> Contents? { contents[Int(block)] }
    public func isCached(_ block: Block) -> Bool { referenceCounts[Int(block)] == 0 && contents[Int(block)] != nil }

    /// A block for new contents, with a reference count of 1; nil when every
    /// block is in use.
    public mutating func allocate() -> Block? {
        let block: Block
        if let free = freeList.popLast() {
            block = free
        } else if lru.first >= 0 {
            block = lru.first
            lru.remove(block)
            if listsEvictions, let old = contents[Int(block)] { evicted.append((block, old)) }
            forget(block)
            evictions += 1
        } else {
            return nil
        }
        referenceCounts[Int(block)] = 1
        return block
    }

    /// The blocks evicted since the last call, with what they held: their
    /// bytes are intact until their new holder writes them.
    public mutating func takeEvicted() -> [(block: Block, contents: Contents)] {
        defer { evicted.removeAll() }
        return evicted
    }

    /// One more holder of `block` (a cached block leaves the LRU queue).
    public mutating func retain(_ block: Block) {
        let i = Int(block)
        if referenceCounts[i] == 0 {
            precondition(contents[i] != nil, "retaining a free block \(block)")
            lru.remove(block)
        }
        referenceCounts[i] += 1
    }

    /// Drops one reference to each of `blocks`, a block table in order. The
    /// table is released from its end, so that when its blocks become cached
    /// the tail of the chain is evicted before the prefix it extends.
    public mutating func release<S: BidirectionalCollection>(_ blocks: S) where S.Element == Block {
        for block in blocks.reversed() {
            let i = Int(block)
            precondition(referenceCounts[i] > 0, "releasing block \(block) with no holder")
            referenceCounts[i] -= 1
            guard referenceCounts[i] == 0 else { continue }
            if contents[i] != nil {
                lru.append(block)
            } else {
                freeList.append(block)
            }
        }
    }

    /// Records that a held block now holds `contents` (it is full), so later
    /// requests with the same prefix can share it. If another block already
    /// holds the same contents, that one stays registered and nothing changes.
    public mutating func register(_ block: Block, _ newContents: Contents) {
        precondition(referenceCounts[Int(block)] > 0, "registering an unheld block \(block)")
        guard index[newContents.hash] == nil, contents[Int(block)] == nil else { return }
        contents[Int(block)] = newContents
        index[newContents.hash] = block
    }

    /// Records that a block whose last holder is about to release it holds
    /// the first `contents.tokens.count` positions after the chain
    /// `contents.parent`, so the next sequence continuing that chain can
    /// `claim` it instead of recomputing them. An identical cached partial
    /// block makes this a no-op.
    public mutating func registerPartial(_ block: Block, _ newContents: Contents) {
        precondition(referenceCounts[Int(block)] == 1 && contents[Int(block)] == nil && newContents.isPartial,
                     "registering partial block \(block) that is shared or already holds something")
        let siblings = partials[newContents.parent, default: []]
        guard !siblings.contains(where: { contents[Int($0)]!.tokens == newContents.tokens }) else { return }
        contents[Int(block)] = newContents
        partials[newContents.parent] = siblings + [block]
    }

    /// The cached partial block after the chain `parent` holding the longest
    /// run of `tokens`' leading tokens, no more than `limit` of them.
    public func lookupPartial<C: Collection>(parent: UInt64, tokens: C, limit: Int) -> (block: Block, length: Int)?
    where C.Element == Int32 {
        var best: (block: Block, length: Int)? = nil
        for block in partials[parent] ?? [] {
            let held = contents[Int(block)]!.tokens
            guard held.count <= limit, held.count > (best?.length ?? 0), tokens.starts(with: held) else { continue }
            best = (block, held.count)
        }
        return best
    }

    /// Takes a cached partial block for a sequence that will write on into
    /// it: it leaves the index and the LRU queue with a reference count of 1.
    public mutating func claim(_ block: Block) {
        let i = Int(block)
        precondition(referenceCounts[i] == 0 && contents[i]?.isPartial == true, "claiming block \(block), which is not a cached partial block")
        lru.remove(block)
        forget(block)
        referenceCounts[i] = 1
    }

    /// Removes a block's contents from whichever index holds them.
    private mutating func forget(_ block: Block) {
        guard let old = contents[Int(block)] else { return }
        if old.isPartial {
            partials[old.parent]?.removeAll { $0 == block }
            if partials[old.parent]?.isEmpty == true { partials[old.parent] = nil }
        } else if index[old.hash] == block {
            index[old.hash] = nil
        }
        contents[Int(block)] = nil
    }

    /// The block holding exactly `tokens` after the chain `parent`, if resident.
    public func lookup(parent: UInt64, tokens: [Int32]) -> Block? {
        lookup(hash: PrefixHash.extend(parent, tokens), parent: parent, tokens: tokens)
    }

    /// As `lookup(parent:tokens:)` when the chain hash is already known.
    public func lookup<C: Collection>(hash: UInt64, parent: UInt64, tokens: C) -> Block? where C.Element == Int32 {
        guard let block = index[hash], let c = contents[Int(block)], !c.isPartial, c.parent == parent,
              c.tokens.elementsEqual(tokens) else { return nil }
        return block
    }

    /// The cached blocks from least to most recently released.
    public var evictionOrder: [Block] { lru.order }

    /// Every invariant stated above; a description of the first that fails.
    public func checkInvariants() -> String? {
        let free = Set(freeList)
        guard free.count == freeList.count else { return "a block is on the free list twice" }
        let cached = evictionOrder
        guard cached.count == cachedCount, Set(cached).count == cached.count else { return "LRU queue and count disagree" }
        for b in 0..<blockCount {
            let block = Block(b), used = referenceCounts[b] > 0
            let states = [used, free.contains(block), cached.contains(block)].filter { $0 }.count
            guard states == 1 else { return "block \(b) is in \(states) states" }
            if cached.contains(block), contents[b] == nil { return "cached block \(b) holds no prefix" }
            if free.contains(block), contents[b] != nil { return "free block \(b) still holds a prefix" }
        }
        for (hash, block) in index where contents[Int(block)]?.hash != hash || contents[Int(block)]!.isPartial {
            return "the index maps a hash to block \(block), which holds something else"
        }
        var partialCount = 0
        for (parent, blocks) in partials {
            for block in blocks {
                guard let c = contents[Int(block)], c.isPartial, c.parent == parent else {
                    return "the partial index lists block \(block) under a chain it does not continue"
                }
                guard referenceCounts[Int(block)] == 0 else { return "partial block \(block) is held while indexed" }
            }
            partialCount += blocks.count
        }
        let partialContents = contents.indices.filter { contents[$0]?.isPartial == true }
        guard partialContents.count == partialCount else { return "a block holds partial contents but is not indexed" }
        guard usedCount + cachedCount + freeCount == blockCount else { return "used + cached + free != total" }
        return nil
    }
}
