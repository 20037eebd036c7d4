import Testing
@testable import Engine
import KVCache
import Model
import KVDisk
import Foundation

/// Eight chat sessions of four turns each, interleaved through one engine:
/// with a pool too small to keep them resident (evictions, preemptions,
/// recomputation) the greedy replies are exactly those of a pool that keeps
/// everything (docs/architecture.md: eviction costs time, never output).
@Suite(.enabled(if: TestModel.enabled, TestModel.missingNote))
struct ConversationEvictionTests {
    func run(_ turns: [[[TokenID]]], blocks: Int, diskSlots: Int = 0, batch: Int = 16) throws -> (replies: [[Completion]], usage: CacheUsage) {
        let (file, llama) = try TestModel.loaded.get()
        let arena = KVArena(hyperparameters: llama.hyperparameters, elementType: .f16, blockSize: 16, blockCount: blocks)
        var tier: DiskTier?
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-eviction-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        if diskSlots > 0 {
            let layout = BlockFileLayout(payloadBytes: arena.bytesPerBlock, segmentBytes: arena.segmentBytes, blockSize: 16, fingerprint: 1)
            tier = DiskTier(file: try BlockFile(path: path, layout: layout, budget: 4096 + diskSlots * layout.slotBytes), memory: arena)
        }
        var limits = DecodeEngine.Limits()
        limits.maxBatchSequences = batch
        let engine = DecodeEngine(model: PagedDecoderModel(model: llama, arena: arena), endOfGeneration: file.endOfGeneration,
                                  limits: limits, diskTier: tier)
        let replies = try engine.converse(turns, maxTokens: 32)
        #expect(engine.cache.checkInvariants() == nil)
        #expect(engine.cache.pool.usedCount == 0)
        return (replies, engine.cache.usage)
    }

    /// Tokens of session history before each turn: prompts, replies, and the
    /// end-of-sequence token where a reply stopped on it.
    func historyLengths(_ turns: [[TokenID]], _ replies: [Completion]) -> [Int] {
        var length = 0
        return zip(turns, replies).map { prompt, reply in
            defer { length += prompt.count + reply.tokens.count + (reply.reason == .stop ? 1 : 0) }
            return length
        }
    }

    @Test func repliesUnderEvictionEqualRepliesWithEverythingResident() throws {
        let (file, _) = try TestModel.loaded.get()
        let turns = try ChatWorkload.turns(sessions: 8, turns: 4, file: file)
        let roomy = try run(turns, blocks: 8 * 24)
        let tight = try run(turns, blocks: 32)

        #expect(roomy.usage.evictions == 0 && roomy.usage.counters.preemptions == 0)
        #expect(tight.usage.evictions > 0 && tight.usage.counters.preemptions > 0, "\(tight.usage)")
        for s in turns.indices {
            #expect(tight.replies[s].map(\.tokens) == roomy.replies[s].map(\.tokens), "session \(s)")
            #expect(roomy.replies[s].allSatisfy { !$0.tokens.isEmpty })
        }
        // With room, every follow-up found its whole history resident, the
        // partial last block included; under pressure some had to recompute.
        var recomputed = 0
        for s in turns.indices {
            let history = historyLengths(turns[s], roomy.replies[s])
            for t in 1..<turns[s].count {
                // The history's last token was sampled, never run.
                let resident = history[t] - 1
                #expect(roomy.replies[s][t].cachedTokens == resident, "session \(s) turn \(t)")
                if tight.replies[s][t].cachedTokens < resident { recomputed += 1 }
            }
        }
        #expect(recomputed > 0)
    }

    /// The same conversations, four running at a time, in a pool that holds
    /// about three of them, with a disk tier: the replies are still those of
    /// a roomy pool (the blocks read back from disk are bit-exact), and the
    /// follow-ups find their evicted histories on disk.
    @Test func followUpsServedFromTheDiskTierAreExact() throws {
        let (file, _) = try TestModel.loaded.get()
        let turns = try ChatWorkload.turns(sessions: 8, turns: 4, file: file)
        let roomy = try run(turns, blocks: 8 * 24, batch: 4)
        let tight = try run(turns, blocks: 48, batch: 4)
        let tiered = try run(turns, blocks: 48, diskSlots: 8 * 24, batch: 4)
        #expect(tiered.usage.evictions > 0, "\(tiered.usage)")
        var fromDisk = 0, followUps = 0, lostWithout = 0, lostWith = 0
        for s in turns.indices {
            #expect(tiered.replies[s].map(\.tokens) == roomy.replies[s].map(\.tokens), "session \(s)")
            let history = historyLengths(turns[s], roomy.replies[s])
            for t in 1..<turns[s].count {
                followUps += 1
                if tiered.replies[s][t].diskCachedTokens > 0 { fromDisk += 1 }
                lostWith += history[t] - tiered.replies[s][t].cachedTokens
                // At most the partial last block is recomputed.
                #expect(tiered.replies[s][t].cachedTokens >= history[t] - 16, "session \(s) turn \(t)")
                lostWithout += history[t] - tight.replies[s][t].cachedTokens
            }
        }
        print("disk tier: \(fromDisk) of \(followUps) follow-ups read history from disk; history tokens recomputed \(lostWith) with the tier, \(lostWithout) without")
        #expect(fromDisk >= followUps / 3, "\(fromDisk) of \(followUps) follow-ups read from disk")
        #expect(lostWith * 4 < lostWithout, "recomputed \(lostWith) history tokens with the tier, \(lostWithout) without")
    }
}
