import Testing
@testable import Engine
import KVCache
import Model

/// Eight chat sessions of four turns each, interleaved through one engine:
/// with a pool too small to keep them resident (evictions, preemptions,
/// recomputation) the greedy replies are exactly those of a pool that keeps
/// everything (../shared/DESIGN.md: eviction costs time, never output).
@Suite(.enabled(if: TestModel.enabled, TestModel.missingNote))
struct ConversationEvictionTests {
    func run(_ turns: [[[TokenID]]], blocks: Int) throws -> (replies: [[Completion]], usage: CacheUsage) {
        let (file, llama) = try TestModel.loaded.get()
        let arena = KVArena(hyperparameters: llama.hyperparameters, elementType: .f16, blockSize: 16, blockCount: blocks)
        let engine = DecodeEngine(model: LlamaPagedModel(model: llama, arena: arena), endOfSequence: file.tokenizer.vocabulary.eos)
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
        let turns = ChatWorkload.turns(sessions: 8, turns: 4, file: file)
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
}
