import Testing
@testable import KVCache

/// Hand-worked cases for sequences in the paged cache (block size 4 keeps the
/// arithmetic visible: tokens 0..<4 are block 0 of a table, 4..<8 block 1).
struct PagedCacheTests {
    let ten: [Int32] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]

    /// Runs `id` over its pending positions in one step, as the engine would.
    func compute(_ cache: inout PagedCache, _ id: Int) {
        let table = cache.table(id)!
        let granted = cache.reserve(id, positions: table.pending)
        #expect(granted)
        cache.commit(id, computed: table.tokens.count)
    }

    @Test func aSequenceGetsBlocksForItsPositionsAndIndexesFullOnes() {
        var cache = PagedCache(blockCount: 8, blockSize: 4)
        #expect(cache.start(1, tokens: ten) == 0)
        let twoBlocks = cache.reserve(1, positions: 6)
        #expect(twoBlocks)  // positions 0..<6: two blocks
        #expect(cache.table(1)!.blocks.count == 2)
        cache.commit(1, computed: 6)
        #expect(cache.table(1)!.indexed == 1)  // only block 0 is full
        let thirdBlock = cache.reserve(1, positions: 4)
        #expect(thirdBlock)  // 6..<10: a third block
        cache.commit(1, computed: 10)
        #expect(cache.table(1)!.indexed == 2 && cache.table(1)!.blocks.count == 3)
        let table = cache.finish(1)
        // The two full blocks stay cached, and so does the third with its two positions.
        #expect(cache.pool.cachedCount == 3 && cache.pool.freeCount == 5)
        #expect(cache.pool.contents(of: table.blocks[2]) == BlockPool.Contents(
            hash: PrefixHash.extend(table.chainHashes[1], ten[8..<10]), tokens: [18, 19], parent: table.chainHashes[1], isPartial: true))
        #expect(table.chainHashes == [PrefixHash.extend(0, ten[0..<4]),
                                      PrefixHash.extend(PrefixHash.extend(0, ten[0..<4]), ten[4..<8])])
        #expect(cache.checkInvariants() == nil)
    }

    @Test func aLaterSequenceAdoptsTheResidentPrefixButNeverItsLastToken() {
        var cache = PagedCache(blockCount: 8, blockSize: 4)
        cache.start(1, tokens: ten)
        compute(&cache, 1)
        let first = cache.finish(1)
        // Same first 8 tokens: two full blocks resident, both adopted.
        #expect(cache.start(2, tokens: Array(ten[0..<8]) + [99]) == 8)
        #expect(Array(cache.table(2)!.blocks) == Array(first.blocks[0..<2]))
        // Exactly 8 tokens: adopting both blocks would leave nothing to compute.
        #expect(cache.start(3, tokens: Array(ten[0..<8])) == 4)
        // Both hold block 0; only sequence 2 holds block 1.
        #expect(cache.pool.referenceCount(first.blocks[0]) == 2)
        #expect(cache.pool.referenceCount(first.blocks[1]) == 1)
        // A different second block: only the first is shared.
        #expect(cache.start(4, tokens: Array(ten[0..<4]) + [1, 2, 3, 4, 5]) == 4)
        // A different first token: nothing.
        #expect(cache.start(5, tokens: [0] + Array(ten[1...])) == 0)
        #expect(cache.checkInvariants() == nil)
    }

    @Test func admissionTakesThePrefixAndTheFirstChunkOrNothing() {
        var cache = PagedCache(blockCount: 4, blockSize: 4)
        cache.start(1, tokens: ten)
        compute(&cache, 1)
        cache.finish(1)  // two full blocks and the partial third cached, one free
        // All ten positions adopted; position 10 fits in the partial third block.
        #expect(cache.admit(2, tokens: ten + [5], maxPositions: 64) == 10)
        #expect(cache.table(2)!.blocks.count == 3 && cache.pool.freeCount == 1)
        // Nothing resident for this one, and 2 blocks are needed for its first 5 positions of 9.
        #expect(cache.admit(3, tokens: [1, 2, 3, 4, 5, 6, 7, 8, 9], maxPositions: 5) == nil)
        #expect(cache.table(3) == nil && cache.pool.freeCount == 1)
        // A chunk of 4 fits in the one free block.
        #expect(cache.admit(3, tokens: [1, 2, 3, 4, 5, 6, 7, 8, 9], maxPositions: 4) == 0)
        // Only admissions count as lookups.
        #expect(cache.usage.counters == CacheCounters(prefixLookups: 2, lookupTokens: 11 + 9, hitTokens: 10, preemptions: 0))
        #expect(cache.checkInvariants() == nil)
    }

    @Test func knownChainHashesFindTheSameBlocks() {
        var cache = PagedCache(blockCount: 8, blockSize: 4)
        cache.start(1, tokens: ten)
        compute(&cache, 1)
        let first = cache.finish(1)
        #expect(cache.start(2, tokens: ten + [7], chainHashes: first.chainHashes) == 10)
        // A wrong hash cannot hand out a block: the stored tokens are compared.
        #expect(cache.start(3, tokens: [1, 2, 3, 4, 5], chainHashes: first.chainHashes) == 0)
    }

    @Test func allocationEvictsTheLeastRecentlyUsedChainTailFirst() {
        var cache = PagedCache(blockCount: 7, blockSize: 4)
        let a: [Int32] = [1, 1, 1, 1, 2, 2, 2, 2, 3], b: [Int32] = [5, 5, 5, 5, 6]
        cache.start(1, tokens: a); compute(&cache, 1)
        cache.start(2, tokens: b); compute(&cache, 2)
        let ta = cache.finish(1), tb = cache.finish(2)
        // Cached, oldest first: a from its partial tail back to its head, then b likewise.
        #expect(cache.pool.evictionOrder == [ta.blocks[2], ta.blocks[1], ta.blocks[0], tb.blocks[1], tb.blocks[0]])
        // Eight positions need two blocks: two are free, so nothing is evicted.
        let sixteen = [Int32](repeating: 9, count: 16)
        cache.start(3, tokens: sixteen)
        let fromFreeList = cache.reserve(3, positions: 8)
        #expect(fromFreeList && cache.pool.evictions == 0)
        // Two more: a's tail goes first, and a now finds only its first block.
        let byEviction = cache.reserve(3, positions: 16)
        #expect(byEviction && cache.pool.evictions == 2)
        cache.commit(3, computed: 16)
        cache.finish(3)
        #expect(cache.start(4, tokens: a + [4]) == 4)
        #expect(cache.start(5, tokens: b + [7]) == 5)
        #expect(cache.checkInvariants() == nil)
    }

    @Test func aFollowUpClaimsThePartialLastBlockForItselfAlone() {
        var cache = PagedCache(blockCount: 8, blockSize: 4)
        cache.start(1, tokens: ten); compute(&cache, 1)
        let first = cache.finish(1)
        // The next turn continues all ten positions, in the same third block.
        #expect(cache.start(2, tokens: ten + [20, 21]) == 10)
        #expect(cache.table(2)!.blocks == first.blocks)
        #expect(cache.pool.referenceCount(first.blocks[2]) == 1 && cache.pool.cachedCount == 0)
        // Sequence 2 writes on into that block, so nobody else may have it.
        #expect(cache.start(3, tokens: ten + [22]) == 8)
        // Once full, the block joins the shared index like any other.
        let granted = cache.reserve(2, positions: 2)
        #expect(granted)
        cache.commit(2, computed: 12)
        cache.finish(2)
        cache.finish(3)
        #expect(cache.start(4, tokens: ten + [20, 21, 5]) == 12)
        #expect(cache.checkInvariants() == nil)
    }

    @Test func thePartialBlockTakenIsTheLongestThatLeavesTheLastTokenToCompute() {
        var cache = PagedCache(blockCount: 8, blockSize: 4)
        cache.start(1, tokens: Array(ten[0..<9])); compute(&cache, 1)  // partial [18]
        cache.finish(1)
        cache.start(2, tokens: ten); compute(&cache, 2)  // adopts [18], leaves [18, 19]
        cache.finish(2)
        cache.start(3, tokens: Array(ten[0..<9])); compute(&cache, 3)  // [18] again, beside [18, 19]
        cache.finish(3)
        #expect(cache.pool.cachedCount == 4)
        // Ten tokens: position 9 must be computed, so only [18] may be taken.
        #expect(cache.start(4, tokens: ten) == 9)
        #expect(cache.start(5, tokens: ten + [1]) == 10)
        // A partial block whose tokens differ is not taken.
        cache.finish(4); cache.finish(5)
        #expect(cache.start(6, tokens: Array(ten[0..<8]) + [17, 19]) == 8)
        #expect(cache.checkInvariants() == nil)
    }

    @Test func reserveRefusesWithoutTakingAnythingWhenShort() {
        var cache = PagedCache(blockCount: 2, blockSize: 4)
        cache.start(1, tokens: ten)
        let granted = cache.reserve(1, positions: 10)
        #expect(!granted)  // needs 3 of 2
        #expect(cache.table(1)!.blocks.isEmpty && cache.pool.freeCount == 2)
        #expect(!cache.canEverFit(positions: 9) && cache.canEverFit(positions: 8))
    }

    @Test func preemptionTakesTheNewestSequencesFirst() {
        var cache = PagedCache(blockCount: 4, blockSize: 4)
        for id in 1...3 {
            cache.start(id, tokens: ten)
            let granted = cache.reserve(id, positions: 4)
            #expect(granted)
        }
        // Sequence 1 needs two more blocks; one is free, then 3 (newest) goes.
        let firstPreempted = cache.reserveOrPreempt(1, positions: 10)
        #expect(firstPreempted == [3])
        #expect(cache.table(3) == nil && cache.table(1)!.blocks.count == 3)
        // Sequence 2 needs a block; only sequence 2 itself is newer than 1.
        let secondPreempted = cache.reserveOrPreempt(2, positions: 8)
        #expect(secondPreempted == [2])
        #expect(cache.table(2) == nil && cache.runningCount == 1)
        #expect(cache.usage.counters.preemptions == 2)
        #expect(cache.checkInvariants() == nil)
    }

    @Test func usageReportsThePoolAndTheRatios() {
        var cache = PagedCache(blockCount: 5, blockSize: 4)
        cache.start(1, tokens: ten); compute(&cache, 1)
        #expect(cache.admit(2, tokens: ten, maxPositions: 1) == 8)
        let usage = cache.usage
        // Sequence 2 shares two blocks of sequence 1 and has its own third.
        #expect(usage.total == 5 && usage.used == 4 && usage.cached == 0 && usage.free == 1)
        #expect(usage.usageRatio == 0.8)
        #expect(usage.prefixHitRatio == 8.0 / 10.0)
    }
}

/// A speculative draft that was written but not accepted leaves the cache
/// as if it had never been appended.
struct DroppedDraftTests {
    let six: [Int32] = [10, 11, 12, 13, 14, 15]

    @Test func aRejectedDraftReleasesItsBlocksAndIndexesNothing() {
        var cache = PagedCache(blockCount: 8, blockSize: 4)
        cache.start(1, tokens: six)
        let granted = cache.reserve(1, positions: 6)
        #expect(granted)
        cache.commit(1, computed: 6)  // blocks 0 (full, indexed) and 1 (positions 4, 5)
        let before = cache.table(1)!
        // A draft of 5 tokens: positions 6..<11 reach into block 2.
        cache.append(1, [20, 21, 22, 23, 24])
        let draftBlocks = cache.reserve(1, positions: 5)
        #expect(draftBlocks)
        #expect(cache.table(1)!.blocks.count == 3 && cache.pool.freeCount == 5)
        // Two accepted: keep tokens through position 7 (block 1 fills), drop the rest uncommitted.
        cache.dropUncommitted(1, keeping: 8)
        cache.commit(1, computed: 8)
        let table = cache.table(1)!
        #expect(table.tokens == six + [20, 21] && table.blocks == before.blocks && table.indexed == 2)
        #expect(cache.pool.freeCount == 6, "block 2 went back to the free list")
        #expect(cache.checkInvariants() == nil)
        // None accepted: the table is as it was before the draft.
        cache.append(1, [30, 31, 32])
        let again = cache.reserve(1, positions: 3)
        #expect(again)
        cache.dropUncommitted(1, keeping: 8)
        #expect(cache.table(1)! == table && cache.pool.freeCount == 6)
        // All but the last accepted: the block the accepted positions reach stays.
        cache.append(1, [40, 41, 42, 43, 44])
        let reach = cache.reserve(1, positions: 5)
        #expect(reach)
        cache.dropUncommitted(1, keeping: 12)
        cache.commit(1, computed: 12)
        #expect(cache.table(1)!.blocks.count == 3 && cache.table(1)!.indexed == 3 && cache.pool.freeCount == 5)
        cache.finish(1)
        #expect(cache.pool.cachedCount == 3 && cache.checkInvariants() == nil)
    }
}
