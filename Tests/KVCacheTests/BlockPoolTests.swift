import Testing
@testable import KVCache

/// Hand-worked cases for the block pool's operations.
struct BlockPoolTests {
    func contents(_ parent: UInt64, _ tokens: [Int32]) -> BlockPool.Contents {
        BlockPool.Contents(hash: PrefixHash.extend(parent, tokens), tokens: tokens, parent: parent)
    }

    @Test func allocatesEveryBlockOnceThenRefuses() {
        var pool = BlockPool(blockCount: 3)
        #expect(pool.allocate() == 0)
        #expect(pool.allocate() == 1)
        #expect(pool.allocate() == 2)
        #expect(pool.allocate() == nil)
        #expect(pool.usedCount == 3 && pool.freeCount == 0 && pool.cachedCount == 0)
        #expect(pool.checkInvariants() == nil)
    }

    @Test func releasedUnregisteredBlocksAreFreeAgain() {
        var pool = BlockPool(blockCount: 2)
        let a = pool.allocate()!, b = pool.allocate()!
        pool.release([a, b])
        #expect(pool.freeCount == 2 && pool.usedCount == 0)
        #expect(pool.allocate() != nil)
        #expect(pool.checkInvariants() == nil)
    }

    @Test func sharedBlockIsFreedByItsLastHolderOnly() {
        var pool = BlockPool(blockCount: 2)
        let a = pool.allocate()!
        pool.register(a, contents(0, [1, 2]))
        pool.retain(a)
        #expect(pool.referenceCount(a) == 2)
        pool.release([a])
        #expect(pool.referenceCount(a) == 1 && !pool.isCached(a))
        pool.release([a])
        #expect(pool.isCached(a) && pool.cachedCount == 1)
        #expect(pool.checkInvariants() == nil)
    }

    @Test func cachedPrefixIsFoundReusedAndEvictedLast() {
        var pool = BlockPool(blockCount: 2)
        let first = pool.allocate()!
        let c = contents(0, [5, 6, 7])
        pool.register(first, c)
        pool.release([first])
        #expect(pool.lookup(parent: 0, tokens: [5, 6, 7]) == first)
        #expect(pool.lookup(parent: 0, tokens: [5, 6, 8]) == nil)
        #expect(pool.lookup(parent: 99, tokens: [5, 6, 7]) == nil)
        // Reuse: retaining takes it out of the LRU queue.
        pool.retain(first)
        #expect(pool.cachedCount == 0 && pool.usedCount == 1)
        pool.release([first])
        // The free block goes first; only then is the cached one evicted.
        let other = pool.allocate()!
        #expect(other != first && pool.lookup(parent: 0, tokens: [5, 6, 7]) == first)
        let evicted = pool.allocate()!
        #expect(evicted == first && pool.evictions == 1)
        #expect(pool.lookup(parent: 0, tokens: [5, 6, 7]) == nil, "an evicted block must not be found")
        #expect(pool.checkInvariants() == nil)
    }

    @Test func chainTailsAreEvictedBeforeTheirPrefixes() {
        var pool = BlockPool(blockCount: 3)
        let table = (0..<3).map { _ in pool.allocate()! }
        var parent: UInt64 = 0
        for (k, block) in table.enumerated() {
            let c = contents(parent, [Int32(k)])
            pool.register(block, c)
            parent = c.hash
        }
        pool.release(table)
        #expect(pool.evictionOrder == table.reversed())
        #expect(pool.allocate() == table[2])
        #expect(pool.checkInvariants() == nil)
    }

    @Test func registeringContentsHeldElsewhereChangesNothing() {
        var pool = BlockPool(blockCount: 2)
        let a = pool.allocate()!, b = pool.allocate()!
        let c = contents(0, [1])
        pool.register(a, c)
        pool.register(b, c)
        #expect(pool.contents(of: b) == nil)
        #expect(pool.lookup(parent: 0, tokens: [1]) == a)
        pool.release([a, b])
        #expect(pool.freeCount == 1 && pool.cachedCount == 1)
        #expect(pool.checkInvariants() == nil)
    }

    @Test func prefixHashDependsOnParentOrderAndEveryToken() {
        let base = PrefixHash.extend(0, [1, 2, 3])
        #expect(base == PrefixHash.extend(0, [1, 2, 3]))
        #expect(base != PrefixHash.extend(0, [1, 3, 2]))
        #expect(base != PrefixHash.extend(1, [1, 2, 3]))
        #expect(base != PrefixHash.extend(0, [1, 2, 3, 0]))
        #expect(PrefixHash.extend(0, []) != 0)
    }

    func partial(_ parent: UInt64, _ tokens: [Int32]) -> BlockPool.Contents {
        BlockPool.Contents(hash: PrefixHash.extend(parent, tokens), tokens: tokens, parent: parent, isPartial: true)
    }

    @Test func aPartialBlockIsFoundByItsChainAndClaimedByOneHolder() {
        var pool = BlockPool(blockCount: 3)
        let a = pool.allocate()!
        pool.registerPartial(a, partial(7, [1, 2]))
        pool.release([a])
        #expect(pool.isCached(a))
        // Never handed out as a full block, even for the same tokens.
        #expect(pool.lookup(parent: 7, tokens: [1, 2]) == nil)
        #expect(pool.lookupPartial(parent: 7, tokens: [1, 2, 3], limit: 3)! == (a, 2))
        #expect(pool.lookupPartial(parent: 7, tokens: [1, 2, 3], limit: 1) == nil)
        #expect(pool.lookupPartial(parent: 7, tokens: [1, 3], limit: 3) == nil)
        #expect(pool.lookupPartial(parent: 8, tokens: [1, 2], limit: 3) == nil)
        pool.claim(a)
        #expect(pool.referenceCount(a) == 1 && pool.contents(of: a) == nil)
        #expect(pool.lookupPartial(parent: 7, tokens: [1, 2, 3], limit: 3) == nil)
        #expect(pool.checkInvariants() == nil)
    }

    @Test func anIdenticalPartialBlockIsNotKeptTwiceAndEvictionForgetsOne() {
        var pool = BlockPool(blockCount: 2)
        let a = pool.allocate()!, b = pool.allocate()!
        pool.registerPartial(a, partial(0, [4]))
        pool.registerPartial(b, partial(0, [4]))
        pool.release([a, b])
        #expect(pool.cachedCount == 1 && pool.freeCount == 1)
        // Allocation takes the free block, then evicts the partial one.
        _ = pool.allocate()
        #expect(pool.allocate() == a && pool.evictions == 1)
        #expect(pool.lookupPartial(parent: 0, tokens: [4, 5], limit: 2) == nil)
        #expect(pool.checkInvariants() == nil)
    }
}
