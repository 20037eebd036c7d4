import Testing
@testable import KVDisk
import KVCache

@Suite struct DiskTierIndexTests {
    func block(_ n: Int, parent: UInt64 = 0) -> BlockPool.Contents {
        let tokens = (0..<4).map { Int32(n * 4 + $0) }
        return BlockPool.Contents(hash: PrefixHash.extend(parent, tokens), tokens: tokens, parent: parent)
    }

    func store(_ index: inout DiskTierIndex, _ c: BlockPool.Contents) -> DiskTierIndex.Slot? {
        guard let (slot, _) = index.reserveWrite(c) else { return nil }
        index.finishWrite(slot, succeeded: true)
        return slot
    }

    @Test func leastRecentlyUsedSlotsGiveWayAndAReadSlotNever() throws {
        var index = DiskTierIndex(slotCount: 3)
        let sa = store(&index, block(0)), sb = store(&index, block(1)), sc = store(&index, block(2))
        let a = try #require(sa), b = try #require(sb), c = try #require(sc)
        #expect(index.evictionOrder == [a, b, c])
        // Touching a makes b the oldest; a read holds b, so c goes next.
        index.touch(a)
        index.beginRead(b)
        #expect(index.evictionOrder == [c, a])
        let sd = store(&index, block(3))
        let d = try #require(sd)
        #expect(d == c && index.evictions == 1)
        #expect(index.lookup(hash: block(2).hash, parent: 0, tokens: block(2).tokens) == nil)
        #expect(index.lookup(hash: block(1).hash, parent: 0, tokens: block(1).tokens) == b)
        index.finishRead(b, succeeded: true)
        #expect(index.evictionOrder == [a, d, b])
        #expect(index.checkInvariants() == nil)
    }

    @Test func aBlockIsWrittenOnceAndAFailedOneIsForgotten() throws {
        var index = DiskTierIndex(slotCount: 4)
        let first = index.reserveWrite(block(0))
        let (slot, serial) = try #require(first)
        #expect(index.reserveWrite(block(0)) == nil, "a second write while the first is in flight")
        #expect(index.lookup(hash: block(0).hash, parent: 0, tokens: block(0).tokens) == nil, "readable before written")
        index.finishWrite(slot, succeeded: false)
        #expect(index.freeCount == 4 && index.storedCount == 0)
        let second = index.reserveWrite(block(0))
        let (again, serial2) = try #require(second)
        #expect(serial2 > serial)
        index.finishWrite(again, succeeded: true)
        #expect(index.reserveWrite(block(0)) == nil, "already stored")
        // A read that finds the bytes bad drops the slot.
        index.beginRead(again)
        index.finishRead(again, succeeded: false)
        #expect(index.storedCount == 0 && index.freeCount == 4)
        #expect(index.checkInvariants() == nil)
    }

    @Test func aHashCollisionNeverMatchesOtherTokens() throws {
        var index = DiskTierIndex(slotCount: 2)
        let real = block(0)
        #expect(store(&index, real) != nil)
        #expect(index.lookup(hash: real.hash, parent: 0, tokens: [9, 9, 9, 9]) == nil)
        #expect(index.lookup(hash: real.hash, parent: 7, tokens: real.tokens) == nil)
    }

    @Test func recoveryRestoresTheWriteOrderAndDropsDuplicates() {
        var index = DiskTierIndex(slotCount: 4)
        let dropped = index.recover([(slot: 3, contents: block(0), serial: 5), (slot: 1, contents: block(1), serial: 2),
                                     (slot: 0, contents: block(0), serial: 1), (slot: 9, contents: block(2), serial: 7)])
        // The older copy of block 0 and the slot past the budget are not kept.
        #expect(dropped == 1 && index.storedCount == 2)
        #expect(index.evictionOrder == [1, 3])
        #expect(index.nextSerial == 6)
        #expect(index.freeCount == 2 && index.checkInvariants() == nil)
    }

    /// Random writes, write failures, reads (good and bad) and touches
    /// against a model of what must be readable: a slot holds at most one
    /// block, the budget holds, and a lookup only ever finds a block whose
    /// write succeeded and that no failed read has dropped since.
    @Test func randomOperationsKeepTheInvariants() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let slots = Int.random(in: 1...6, using: &generator)
            var index = DiskTierIndex(slotCount: slots)
            var writing: [DiskTierIndex.Slot] = [], reading: [DiskTierIndex.Slot] = []
            for _ in 0..<300 {
                let c = block(Int.random(in: 0..<10, using: &generator))
                switch Int.random(in: 0..<6, using: &generator) {
                case 0, 1:
                    if let (slot, _) = index.reserveWrite(c) { writing.append(slot) }
                case 2:
                    if let k = writing.indices.randomElement() { index.finishWrite(writing.remove(at: k), succeeded: Bool.random()) }
                case 3:
                    if let slot = index.lookup(hash: c.hash, parent: 0, tokens: c.tokens) {
                        index.beginRead(slot)
                        reading.append(slot)
                    }
                case 4:
                    if let k = reading.indices.randomElement() { index.finishRead(reading.remove(at: k), succeeded: Int.random(in: 0..<4) > 0) }
                default:
                    if let slot = index.lookup(hash: c.hash, parent: 0, tokens: c.tokens) { index.touch(slot) }
                }
                #expect(index.checkInvariants() == nil, "\(index.checkInvariants() ?? "")")
                #expect(index.storedCount + index.writingCount <= slots)
            }
        }
    }
}
