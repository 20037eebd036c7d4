/// The bookkeeping of a paged K/V cache for the scheduler: the block pool
/// plus the block table of every running sequence.
///
/// A sequence is started with all its tokens (history and prompt); it adopts
/// the longest resident prefix of them, then is given blocks step by step
/// (`reserve`) as its positions are computed (`commit`), and full blocks
/// join the prefix index as they are completed. When it ends (`finish`), its
/// full blocks stay cached for whoever shares the prefix next, and its
/// partial last block for whoever continues it next (a conversation's next
/// turn), until evicted.
///
/// Invariants (on top of `BlockPool`'s, checked by `checkInvariants`): each
/// block's reference count equals the number of running sequences whose table
/// holds it plus the disk loads that hold it; running sequences have distinct admission numbers.
public struct PagedCache: Sendable {
    public typealias SequenceID = Int

    public let blockSize: Int
    public private(set) var pool: BlockPool
    public private(set) var counters = CacheCounters()
    private var running: [SequenceID: (table: BlockTable, admission: Int)] = [:]
    private var nextAdmission = 0
    /// Blocks held by reads from the disk tier in flight, by load.
    private var loads: [Int: [BlockPool.Block]] = [:]
    private var nextLoad = 0
    /// Mixed into every chain's root when set (the K/V element type's tag).
    public let rootTag: Int32?

    /// `rootTag`: what the blocks' contents depend on besides their tokens
    /// (the K/V element type), mixed into the parent of block 0 so that no
    /// chain hash of one kind of contents equals one of another (nil: the
    /// salt alone is the root).
    public init(blockCount: Int, blockSize: Int, rootTag: Int32? = nil) {
        precondition(blockSize > 0)
        self.blockSize = blockSize
        self.rootTag = rootTag
        pool = BlockPool(blockCount: blockCount)
    }

    /// The parent hash of block 0 under `salt`. Every chain hash starts
    /// here: the salt-taking methods below are the only places they are made.
    public func root(salt: UInt64) -> UInt64 {
        rootTag.map { PrefixHash.extend(salt, [$0]) } ?? salt
    }

    /// Blocks that `positions` positions occupy.
    public func blocks(forPositions positions: Int) -> Int { (positions + blockSize - 1) / blockSize }

    /// Whether a sequence reaching `positions` positions can ever run: alone,
    /// with every other sequence preempted, it fits in the pool.
    public func canEverFit(positions: Int) -> Bool { blocks(forPositions: positions) <= pool.blockCount }

    public var runningCount: Int { running.count }
    public func table(_ id: SequenceID) -> BlockTable? { running[id]?.table }

    /// Starts sequence `id` over `tokens`, adopting the longest resident
    /// prefix of them: shared whole blocks, then a cached partial block that
    /// continues them, but never the last token, whose logits are needed.
    /// `chainHashes` (a session's, for the same leading tokens) saves
    /// rehashing; `salt` roots the chain (only sequences under the same salt
    /// share blocks). Returns the number of positions already computed. Only
    /// a claimed partial block is taken; `reserve` allocates the rest.
    @discardableResult
    public mutating func start(_ id: SequenceID, tokens: [Int32], chainHashes: [UInt64] = [], salt: UInt64 = 0) -> Int {
        precondition(running[id] == nil, "sequence \(id) is already running")
        precondition(!tokens.isEmpty, "a sequence needs a token")
        let hashes = self.chainHashes(of: tokens, known: chainHashes, salt: salt)
        var table = BlockTable(tokens: tokens, chainHashes: hashes, root: root(salt: salt))
        var parent = table.root
        for block in prefixBlocks(tokens, hashes: hashes, salt: salt, stopAtMissing: true) {
            pool.retain(block.resident!)
            table.blocks.append(block.resident!)
            parent = block.hash
        }
        table.computed = table.blocks.count * blockSize
        table.indexed = table.blocks.count
        if let (block, length) = pool.lookupPartial(parent: parent, tokens: tokens[table.computed...],
                                                    limit: tokens.count - 1 - table.computed) {
            pool.claim(block)
            table.blocks.append(block)
            table.computed += length
        }
        running[id] = (table, nextAdmission)
        nextAdmission += 1
        return table.computed
    }

    /// The chain hashes of `tokens`' whole blocks under `salt`, `known` (the
    /// hashes of the leading blocks, e.g. a session's) reused: what a
    /// request computes once, for admission and for the disk tier's lookups.
    public func chainHashes(of tokens: [Int32], known: [UInt64], salt: UInt64) -> [UInt64] {
        let whole = tokens.count / blockSize
        guard known.count < whole else { return known.count == whole ? known : Array(known.prefix(whole)) }
        var hashes = known
        hashes.reserveCapacity(whole)
        let first = root(salt: salt)
        for i in known.count..<whole {
            hashes.append(PrefixHash.extend(i == 0 ? first : hashes[i - 1], tokens[i * blockSize ..< (i + 1) * blockSize]))
        }
        return hashes
    }

    /// One whole block of a prefix: its place, chain hash and parent, its
    /// tokens, and the resident block holding them, if any.
    public struct PrefixBlock {
        public let index: Int
        public let hash: UInt64
        public let parent: UInt64
        public let tokens: ArraySlice<Int32>
        public let resident: BlockPool.Block?
    }

    /// The prefix walk that admission and the disk tier share: the whole
    /// blocks of `tokens` that may be adopted (never the one holding the
    /// last token, whose logits are needed), in order, each looked up in
    /// RAM; up to the first one not resident when `stopAtMissing`.
    /// `hashes`: `chainHashes(of:known:salt:)` of the tokens.
    public func prefixBlocks(_ tokens: [Int32], hashes: [UInt64], salt: UInt64, stopAtMissing: Bool) -> [PrefixBlock] {
        let adoptable = (tokens.count - 1) / blockSize
        precondition(hashes.count >= adoptable, "the prefix walk needs the tokens' chain hashes")
        var blocks: [PrefixBlock] = []
        var parent = root(salt: salt)
        for i in 0..<adoptable {
            let blockTokens = tokens[i * blockSize ..< (i + 1) * blockSize]
            let resident = pool.lookup(hash: hashes[i], parent: parent, tokens: blockTokens)
            if resident == nil && stopAtMissing { break }
            blocks.append(PrefixBlock(index: i, hash: hashes[i], parent: parent, tokens: blockTokens, resident: resident))
            parent = hashes[i]
        }
        return blocks
    }

    /// Admits a waiting sequence if it can run now without preempting
    /// anyone: `start`, then `reserve` for its first `maxPositions` pending
    /// positions. Returns the positions found computed, or nil (and nothing
    /// held) when blocks are short. Only admissions count as prefix lookups.
    public mutating func admit(_ id: SequenceID, tokens: [Int32], chainHashes: [UInt64] = [], salt: UInt64 = 0,
                               maxPositions: Int) -> Int? {
        let cached = start(id, tokens: tokens, chainHashes: chainHashes, salt: salt)
        guard reserve(id, positions: min(tokens.count - cached, maxPositions)) else {
            finish(id)
            return nil
        }
        counters.prefixLookups += 1
        counters.lookupTokens += tokens.count
        counters.hitTokens += cached
        return cached
    }

    /// Whether evicted blocks are listed for `takeEvicted`.
    public var listsEvictions: Bool {
        get { pool.listsEvictions }
        set { pool.listsEvictions = newValue }
    }

    /// The blocks evicted since the last call, their bytes still intact.
    public mutating func takeEvicted() -> [(block: BlockPool.Block, contents: BlockPool.Contents)] { pool.takeEvicted() }

    /// Holds blocks for a read from the disk tier: the resident blocks of the
    /// prefix it completes (so they stay while it runs) and `count` new
    /// blocks to read into, taken like `reserve`'s. Nil (nothing held) when
    /// too few blocks are free or evictable.
    public mutating func beginLoad(keeping resident: [BlockPool.Block], count: Int) -> (load: Int, blocks: [BlockPool.Block])? {
        guard count <= pool.availableCount else { return nil }
        for block in resident { pool.retain(block) }
        guard count <= pool.availableCount else {
            pool.release(resident)
            return nil
        }
        let blocks = (0..<count).map { _ in pool.allocate()! }
        defer { nextLoad += 1 }
        loads[nextLoad] = resident + blocks
        return (nextLoad, blocks)
    }

    /// Records a load's outcome: each block read intact joins the prefix
    /// index with what it now holds (`contents`, in the order `beginLoad`
    /// returned them; nil for one that was not read), to be adopted through
    /// the index like any resident block. The load still holds its blocks.
    public mutating func completeLoad(_ load: Int, contents: [BlockPool.Contents?]) {
        let read = loads[load]!.suffix(contents.count)
        for (block, c) in zip(read, contents) { if let c { pool.register(block, c) } }
    }

    /// Releases every block a load held (those it read stay cached).
    public mutating func endLoad(_ load: Int) {
        pool.release(loads.removeValue(forKey: load)!)
    }

    public var loadsInFlight: Int { loads.count }

    /// Appends sampled tokens to a running sequence.
    public mutating func append(_ id: SequenceID, _ tokens: [Int32]) {
        running[id]!.table.tokens.append(contentsOf: tokens)
    }

    /// Blocks for positions `computed ..< computed + count` of `id`, taken
    /// from the free list or by evicting cached blocks only. False (and
    /// nothing allocated) when too few blocks are free or evictable: the way
    /// to admit a waiting sequence without disturbing running ones.
    public mutating func reserve(_ id: SequenceID, positions count: Int) -> Bool {
        let missing = blocksMissing(id, positions: count)
        guard missing <= pool.availableCount else { return false }
        for _ in 0..<missing { running[id]!.table.blocks.append(pool.allocate()!) }
        return true
    }

    /// As `reserve`, for a running sequence that must make progress: while
    /// blocks are short, the newest running sequence is preempted (its
    /// blocks released) until the request fits. Returns the preempted ids,
    /// newest first; if they include `id`, it was itself the newest and got
    /// nothing. Called for running sequences oldest first, this never takes
    /// blocks from a sequence already served this step.
    public mutating func reserveOrPreempt(_ id: SequenceID, positions count: Int) -> [SequenceID] {
        var preempted: [SequenceID] = []
        while !reserve(id, positions: count) {
            let newest = running.max { $0.value.admission < $1.value.admission }!.key
            finish(newest)
            counters.preemptions += 1
            preempted.append(newest)
            if newest == id { break }
        }
        return preempted
    }

    private func blocksMissing(_ id: SequenceID, positions count: Int) -> Int {
        let table = running[id]!.table
        precondition(count >= 0 && table.computed + count <= table.tokens.count, "reserving positions past the sequence's tokens")
        return max(0, blocks(forPositions: table.computed + count) - table.blocks.count)
    }

    /// Drops `id`'s tokens past the first `count`, none of them committed
    /// (`count >= computed`), and the blocks only they needed: a rejected
    /// speculative draft, whose keys and values were written but never
    /// committed. Nothing of it reached the prefix index, and the positions
    /// it wrote past `computed` are written again before they are read, so
    /// the sequence is exactly as if the draft had never been appended.
    public mutating func dropUncommitted(_ id: SequenceID, keeping count: Int) {
        var table = running[id]!.table
        precondition(count >= table.computed && count <= table.tokens.count, "dropping committed tokens")
        table.tokens.removeLast(table.tokens.count - count)
        // The blocks of the positions kept (they may be committed next).
        let needed = max(blocks(forPositions: count), table.indexed)
        if table.blocks.count > needed {
            pool.release(table.blocks[needed...])
            table.blocks.removeLast(table.blocks.count - needed)
        }
        running[id]!.table = table
    }

    /// Records that positions up to `computed` of `id` now hold keys and
    /// values; blocks that became full join the prefix index.
    public mutating func commit(_ id: SequenceID, computed: Int) {
        var table = running[id]!.table
        precondition(computed >= table.computed && computed <= table.blocks.count * blockSize && computed <= table.tokens.count)
        table.computed = computed
        while table.indexed < computed / blockSize {
            let i = table.indexed
            let parent = table.parent(ofBlock: i)
            let hash = hashOfBlock(i, in: &table, parent: parent)
            let tokens = Array(table.tokens[i * blockSize ..< (i + 1) * blockSize])
            pool.register(table.blocks[i], BlockPool.Contents(hash: hash, tokens: tokens, parent: parent))
            table.indexed += 1
        }
        running[id]!.table = table
    }

    /// Ends sequence `id` (finished, cancelled or preempted) and returns its
    /// table. Its blocks are released: full ones stay cached under their
    /// prefix, and so does the computed head of a partial last block.
    @discardableResult
    public mutating func finish(_ id: SequenceID) -> BlockTable {
        let table = running.removeValue(forKey: id)!.table
        let last = table.computed / blockSize, length = table.computed % blockSize
        // Block `last` exists (computed <= blocks * blockSize) and, partially
        // computed, has only this writer: `registerPartial` checks that.
        if length > 0 {
            let parent = table.parent(ofBlock: last)
            let tokens = Array(table.tokens[(last * blockSize)..<table.computed])
            pool.registerPartial(table.blocks[last], BlockPool.Contents(hash: PrefixHash.extend(parent, tokens),
                                                                         tokens: tokens, parent: parent, isPartial: true))
        }
        pool.release(table.blocks)
        return table
    }

    /// The hash of block `i`'s chain, from the table's known hashes or
    /// computed (and remembered) from its parent's.
    private func hashOfBlock(_ i: Int, in table: inout BlockTable, parent: UInt64) -> UInt64 {
        if i < table.chainHashes.count { return table.chainHashes[i] }
        precondition(i == table.chainHashes.count)
        let hash = PrefixHash.extend(parent, table.tokens[i * blockSize ..< (i + 1) * blockSize])
        table.chainHashes.append(hash)
        return hash
    }

    /// A snapshot for metrics.
    public var usage: CacheUsage {
        CacheUsage(total: pool.blockCount, used: pool.usedCount, cached: pool.cachedCount, free: pool.freeCount,
                   evictions: pool.evictions, counters: counters)
    }

    /// The pool's invariants, and that reference counts match the tables.
    public func checkInvariants() -> String? {
        if let broken = pool.checkInvariants() { return broken }
        var holders = [Int](repeating: 0, count: pool.blockCount)
        for blocks in loads.values { for b in blocks { holders[Int(b)] += 1 } }
        for (id, entry) in running {
            let t = entry.table
            for b in t.blocks { holders[Int(b)] += 1 }
            guard t.computed <= t.tokens.count, t.computed <= t.blocks.count * blockSize else {
                return "sequence \(id) computed \(t.computed) of \(t.tokens.count) tokens in \(t.blocks.count) blocks"
            }
        }
        for b in 0..<pool.blockCount where holders[b] != pool.referenceCount(BlockPool.Block(b)) {
            return "block \(b) is held by \(holders[b]) tables but counts \(pool.referenceCount(BlockPool.Block(b)))"
        }
        guard Set(running.values.map(\.admission)).count == running.count else { return "two sequences share an admission number" }
        return nil
    }
}

/// Counters that only grow, for metrics.
public struct CacheCounters: Sendable, Equatable {
    /// Sequences admitted, each looking up its prefix.
    public var prefixLookups = 0
    /// Tokens those sequences had, and how many were found computed.
    public var lookupTokens = 0
    public var hitTokens = 0
    public var preemptions = 0
}

/// The pool's state at one moment.
public struct CacheUsage: Sendable, Equatable {
    public let total, used, cached, free, evictions: Int
    public let counters: CacheCounters

    /// Blocks held by running sequences, as a fraction of the pool.
    public var usageRatio: Double { total == 0 ? 0 : Double(used) / Double(total) }
    /// Looked-up tokens whose keys and values were found resident.
    public var prefixHitRatio: Double {
        counters.lookupTokens == 0 ? 0 : Double(counters.hitTokens) / Double(counters.lookupTokens)
    }
}
