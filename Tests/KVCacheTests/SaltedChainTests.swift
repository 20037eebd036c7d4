import Testing
@testable import KVCache

/// A salt roots the chain hashes: sequences share blocks only under the same salt.
struct SaltedChainTests {
    let tokens: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8, 9]

    func run(_ cache: inout PagedCache, _ id: Int, salt: UInt64) -> Int {
        let cached = cache.admit(id, tokens: tokens, salt: salt, maxPositions: 100)!
        cache.commit(id, computed: tokens.count)
        cache.finish(id)
        return cached
    }

    @Test func onlyTheSameSaltFindsTheBlocks() {
        var cache = PagedCache(blockCount: 16, blockSize: 4)
        #expect(run(&cache, 1, salt: 99) == 0)
        #expect(run(&cache, 2, salt: 98) == 0)
        #expect(run(&cache, 3, salt: 0) == 0)
        // The same salt finds all but the last token (full blocks and the partial tail).
        #expect(run(&cache, 4, salt: 99) == 8)
        #expect(cache.checkInvariants() == nil)
    }

    @Test func aSaltedChainStartsFromTheSalt() {
        var cache = PagedCache(blockCount: 16, blockSize: 4)
        cache.start(1, tokens: tokens, salt: 7)
        _ = cache.reserve(1, positions: 9)
        cache.commit(1, computed: 9)
        let table = cache.finish(1)
        #expect(table.chainHashes.first == PrefixHash.extend(7, tokens[0..<4]))
    }

    /// The K/V type's tag roots the chain with the salt: no tag keeps the
    /// bare salt (f16, as before types were tagged); a tag makes every
    /// hash differ, so blocks of one type never answer for another.
    @Test func aRootTagIsMixedIntoTheFirstBlocksParent() {
        func hashes(tag: Int32?) -> [UInt64] {
            var cache = PagedCache(blockCount: 16, blockSize: 4, rootTag: tag)
            cache.start(1, tokens: tokens, salt: 7)
            _ = cache.reserve(1, positions: 9)
            cache.commit(1, computed: 9)
            let table = cache.finish(1)
            #expect(table.chainHashes == cache.chainHashes(of: tokens, known: [], salt: 7))
            return table.chainHashes
        }
        let untagged = hashes(tag: nil), tagged = hashes(tag: 0x7138_5F30)
        #expect(untagged[0] == PrefixHash.extend(7, tokens[0..<4]))
        let root = PrefixHash.extend(7, [Int32(0x7138_5F30)])
        #expect(tagged[0] == PrefixHash.extend(root, tokens[0..<4]))
        #expect(tagged[1] == PrefixHash.extend(tagged[0], tokens[4..<8]))
        #expect(Set(untagged).isDisjoint(with: tagged))
    }
}
