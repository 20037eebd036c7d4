import Foundation
import Testing
@testable import Engine
import KVCache
import Model

/// A turn that sends the whole conversation (the OpenAI routes) against a
/// session's history, on the recording model: what the session keeps, what
/// the turn recomputes, and what a cancelled turn leaves.
@Suite struct ConversationReconcileTests {
    func engine() -> DecodeEngine {
        DecodeEngine(model: RecordingModel(contextLength: 256, blockSize: 4, blockCount: 64), endOfGeneration: [],
                     clock: { 0 })
    }

    func run(_ engine: DecodeEngine, _ request: GenerationRequest) throws -> Completion {
        let id = try engine.submit(request)
        while true {
            for case let .finished(finished, completion) in engine.step() where finished == id { return completion }
        }
    }

    func turn(_ prompt: [TokenID], history: GenerationRequest.HistoryUse, maxTokens: Int = 3) -> GenerationRequest {
        var r = GenerationRequest(prompt: prompt, sessionID: "s", maxTokens: maxTokens, sampling: .greedy)
        r.history = history
        return r
    }

    @Test func theWholeConversationResentExtendsTheHistoryOnce() throws {
        let e = engine()
        let first = try run(e, turn([1, 2, 3, 4, 5], history: .reconcile))
        let history = try #require(e.sessions["s"]).tokens
        #expect(history == [1, 2, 3, 4, 5] + first.tokens)
        // The client sends everything again plus a new message.
        let second = try run(e, turn(history + [6, 6], history: .reconcile))
        #expect(second.historyTokens == history.count && second.promptTokens == 2)
        // Everything but the last history token was cached (it was sampled, never run).
        #expect(second.cachedTokens == history.count - 1)
        #expect(try #require(e.sessions["s"]).tokens == history + [6, 6] + second.tokens)
        #expect(e.sessions["s"]?.turns == 2)
    }

    @Test func anEditedMessageContinuesFromTheDivergence() throws {
        let e = engine()
        _ = try run(e, turn([1, 2, 3, 4, 5, 6, 7, 8, 9], history: .reconcile))
        let before = try #require(e.sessions["s"]).tokens
        // The client edited the conversation from position 6 on.
        let edited: [TokenID] = [1, 2, 3, 4, 5, 6, 5, 5]
        let reply = try run(e, turn(edited, history: .reconcile))
        #expect(reply.historyTokens == 6 && reply.promptTokens == 2)
        let after = try #require(e.sessions["s"]).tokens
        #expect(after == edited + reply.tokens)
        #expect(!after.starts(with: before))
        #expect(e.cache.checkInvariants() == nil)
    }

    @Test func aConversationThatIsAPrefixOfTheHistoryRegeneratesItsLastToken() throws {
        let e = engine()
        _ = try run(e, turn([1, 2, 3, 4, 5], history: .reconcile))
        // Regenerate: the same messages again. The last token is recomputed for its logits.
        let again = try run(e, turn([1, 2, 3, 4, 5], history: .reconcile))
        #expect(again.historyTokens == 4 && again.promptTokens == 1)
        #expect(e.sessions["s"]?.tokens == [1, 2, 3, 4, 5] + again.tokens)
    }

    @Test func aCancelledReconcilingTurnLeavesTheHistoryAsItWas() throws {
        let e = engine()
        _ = try run(e, turn([1, 2, 3, 4, 5, 6, 7, 8, 9], history: .reconcile))
        let before = try #require(e.sessions["s"])
        let id = try e.submit(turn([1, 2, 5], history: .reconcile))
        _ = e.step()
        _ = e.cancel(id)
        #expect(e.sessions["s"]?.tokens == before.tokens && e.sessions["s"]?.turns == before.turns)
        #expect(e.sessions["s"]?.busy == false)
    }

    @Test func anAppendMadeForAnotherHistoryIsRefused() throws {
        let e = engine()
        _ = try run(e, turn([1, 2, 3], history: .append(expecting: 0)))
        let length = try #require(e.sessions["s"]).tokens.count
        #expect(throws: AdmissionError.session(.changed("s"))) { try e.submit(turn([4], history: .append(expecting: 0))) }
        _ = try run(e, turn([4], history: .append(expecting: length)))
        #expect(e.sessions["s"]?.turns == 2)
    }

    @Test func requestsUnderAnotherSaltFindNothingCached() throws {
        let e = engine()
        var a = GenerationRequest(prompt: Array(1...20), maxTokens: 1, sampling: .greedy)
        a.cacheSalt = 11
        _ = try run(e, a)
        // Five full blocks; the last holds the last token, whose logits are needed.
        #expect(try run(e, a).cachedTokens == 16)
        var b = a
        b.cacheSalt = 12
        #expect(try run(e, b).cachedTokens == 0)
        b.cacheSalt = 0
        #expect(try run(e, b).cachedTokens == 0)
    }

    @Test func logprobsAreTheLogSoftmaxOfTheLogits() {
        // log-softmax of [0, ln 2, ln 3, 0] is ln([1, 2, 3, 1] / 7).
        let logits: [Float] = [0, logf(2), logf(3), 0]
        let lp = TokenLogprobs(logits: logits, token: 1, count: 3)
        #expect(abs(lp.logprob - logf(2.0 / 7)) < 1e-6)
        #expect(lp.top.map(\.token) == [2, 1, 0])  // ties keep the lower id first
        for (entry, p) in zip(lp.top, [3.0, 2.0, 1.0] as [Float]) { #expect(abs(entry.logprob - logf(p / 7)) < 1e-6) }
        #expect(TokenLogprobs(logits: logits, token: 3, count: 0).top.isEmpty)
    }
}
