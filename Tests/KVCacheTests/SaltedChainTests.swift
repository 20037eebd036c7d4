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
}
