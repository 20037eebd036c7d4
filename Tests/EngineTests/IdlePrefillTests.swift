import Testing
@testable import Engine
import Model

/// Prefills without a reply (a conversation as its next request renders
/// it): made resident only while the engine has nothing else to do, handed
/// back the moment a request comes, and read back like any cached block.
/// RecordingModel's logits hash every slot a sequence reads, so a block
/// computed for other tokens or positions would change the replies.
struct IdlePrefillTests {
    static func engine(blocks: Int = 256, prefillPerStep: Int = 8) -> (DecodeEngine, RecordingModel) {
        let model = RecordingModel(contextLength: 1024, blockSize: 4, blockCount: blocks)
        var limits = DecodeEngine.Limits()
        limits.maxPrefillTokensPerStep = prefillPerStep
        return (DecodeEngine(model: model, endOfGeneration: [RecordingModel.endOfSequence], limits: limits), model)
    }

    static func tokens(_ count: Int, seed: Int) -> [TokenID] { (0..<count).map { TokenID(($0 * 5 + seed) % 6) } }

    static func run(_ engine: DecodeEngine, _ request: GenerationRequest) throws -> Completion {
        let id = try engine.submit(request)
        while true {
            for case let .finished(done, completion) in engine.step() where done == id { return completion }
        }
    }

    @Test func aPrefillIsReadBackByTheRequestThatFollows() throws {
        let history = Self.tokens(203, seed: 1)
        let (engine, model) = Self.engine()
        engine.prefillWhenIdle(history, salt: 7)
        var steps = 0
        while engine.hasWork { _ = engine.step(); steps += 1 }
        #expect(steps == (203 + 7) / 8, "one step per 8 positions")
        var request = GenerationRequest(prompt: history + [3, 2], maxTokens: 6, sampling: .greedy, ignoreEOS: true)
        request.cacheSalt = 7
        let warm = try Self.run(engine, request)
        // Whole blocks and the partial last one: all of the history but never the prompt's last token.
        #expect(warm.cachedTokens == 203)
        // Against an engine that computes everything.
        let (cold, _) = Self.engine()
        let reference = try Self.run(cold, request)
        #expect(reference.cachedTokens == 0 && warm.tokens == reference.tokens)
        #expect(model.violations.isEmpty, "\(model.violations.prefix(3))")
        // Another tenant's salt finds none of it.
        request.cacheSalt = 8
        #expect(try Self.run(engine, request).cachedTokens == 0)
    }

    @Test func aRequestWaitsForNoMoreThanTheStepUnderWay() throws {
        let (engine, model) = Self.engine()
        engine.prefillWhenIdle(Self.tokens(400, seed: 2), salt: 0)
        for _ in 0..<5 { _ = engine.step() }
        // A request of 6 prompt tokens alone gets its first token in its first step; so it does here.
        let id = try engine.submit(GenerationRequest(prompt: Self.tokens(6, seed: 3), maxTokens: 3, sampling: .greedy, ignoreEOS: true))
        let first = engine.step()
        #expect(first.contains { if case .token(id, 0, _, _) = $0 { true } else { false } }, "\(first)")
        #expect(engine.runningCount == 1, "the prefill is not in the batch")
        var events: [EngineEvent] = []
        while engine.runningCount > 0 { events += engine.step() }
        #expect(events.contains { if case .finished(id, _) = $0 { true } else { false } })
        // Then it resumes from what stayed cached: 400 positions in all, 5 steps of 8 done before.
        var steps = 0
        while engine.hasWork { _ = engine.step(); steps += 1 }
        #expect(steps == (400 - 40 + 7) / 8, "\(steps) steps")
        var request = GenerationRequest(prompt: Self.tokens(400, seed: 2) + [1], maxTokens: 1, sampling: .greedy)
        request.ignoreEOS = true
        #expect(try Self.run(engine, request).cachedTokens == 400)
        #expect(model.violations.isEmpty)
    }

    @Test func aRewrittenSessionKeepsItsSharedBlocksAndPrefillsTheRest() throws {
        let (engine, model) = Self.engine()
        var first = GenerationRequest(prompt: Self.tokens(30, seed: 4), sessionID: "s", maxTokens: 5, sampling: .greedy, ignoreEOS: true)
        first.history = .append(expecting: 0)
        let turn = try Self.run(engine, first)
        let computed = try #require(turn.session).tokens
        #expect(computed.count == 35)
        // The next request renders the turn differently from position 20 on.
        let rendered = Array(computed.prefix(20)) + Self.tokens(11, seed: 5)
        #expect(engine.rewriteSession("s", to: rendered, expecting: 34, salt: 0) == nil, "a session that moved on is left alone")
        let session = try #require(engine.rewriteSession("s", to: rendered, expecting: 35, salt: 0))
        #expect(session.tokens == rendered && session.turns == 1)
        #expect(session.chainHashes == engine.cache.chainHashes(of: rendered, known: [], salt: 0))
        while engine.hasWork { _ = engine.step() }
        var next = GenerationRequest(prompt: [2, 4], sessionID: "s", maxTokens: 4, sampling: .greedy, ignoreEOS: true)
        next.history = .append(expecting: rendered.count)
        let followUp = try Self.run(engine, next)
        #expect(followUp.historyTokens == 31 && followUp.cachedTokens == 31, "history \(followUp.historyTokens), cached \(followUp.cachedTokens)")
        let (cold, _) = Self.engine()
        let reference = try Self.run(cold, GenerationRequest(prompt: rendered + [2, 4], maxTokens: 4, sampling: .greedy, ignoreEOS: true))
        #expect(followUp.tokens == reference.tokens)
        #expect(model.violations.isEmpty)
    }

    /// Token i of RecordingModel's vocabulary spelt as one piece of the markers.
    static let spelling: [TokenID: String] = [0: "a", 1: "<think>", 2: "</", 3: "think>", 4: "\n\n", 5: "b", 6: "c", 7: ""]

    static func budget(_ limit: Int, startsInside: Bool) -> ReasoningBudget {
        ReasoningBudget(limit: limit, opening: "<think>", closing: "</think>", closingTokens: [2, 3, 4], startsInside: startsInside,
                        bytes: { Array((spelling[$0] ?? "?").utf8) })
    }

    @Test func theBudgetClosesTheBlockAfterItsTokens() throws {
        // A hand-traced reply: the block opens, 3 tokens of reasoning, then the engine writes "</think>\n\n".
        var b = Self.budget(3, startsInside: false)
        var reply: [TokenID] = []
        for sampled: TokenID in [1, 0, 5, 6, 0, 0, 0, 5, 6] {
            let token = b.forcedToken() ?? sampled
            b.observe(token)
            reply.append(token)
        }
        #expect(reply == [1, 0, 5, 6, 2, 3, 4, 5, 6])
        #expect(b.state == .after && b.spent == 5)
        // Closed by the model first: nothing is forced.
        var natural = Self.budget(3, startsInside: true)
        for token: TokenID in [0, 2, 3, 0, 0, 0] { #expect(natural.forcedToken() == nil); natural.observe(token) }
        #expect(natural.state == .after)
        // A reply that does not open a block has no budget to spend.
        var none = Self.budget(0, startsInside: false)
        for token: TokenID in [0, 1, 0, 0] { #expect(none.forcedToken() == nil); none.observe(token) }
        // A budget of 0 in a block the prompt opened closes it at once.
        var zero = Self.budget(0, startsInside: true)
        #expect([zero.forcedToken(), zero.forcedToken(), zero.forcedToken(), zero.forcedToken()] == [2, 3, 4, nil])
    }

    @Test func theEngineWritesTheClosingTokensAtTheBudget() throws {
        let (engine, _) = Self.engine()
        var request = GenerationRequest(prompt: Self.tokens(9, seed: 6), maxTokens: 12, sampling: .greedy, ignoreEOS: true)
        let free = try Self.run(engine, request)
        request.reasoningBudget = Self.budget(4, startsInside: true)
        let budgeted = try Self.run(engine, request)
        // The same first 4 tokens (the sampler is the same), then the closing ones, then the model again.
        #expect(!free.tokens.prefix(4).contains(2), "this prompt's reply must not close the block itself: \(free.tokens)")
        #expect(Array(budgeted.tokens.prefix(4)) == Array(free.tokens.prefix(4)))
        #expect(Array(budgeted.tokens[4..<7]) == [2, 3, 4], "\(budgeted.tokens)")
        #expect(budgeted.tokens.count == 12)
        // Bit-identical whatever else runs beside it.
        let other = try engine.submit(GenerationRequest(prompt: Self.tokens(20, seed: 1), maxTokens: 12, sampling: .greedy, ignoreEOS: true))
        _ = other
        #expect(try Self.run(engine, request).tokens == budgeted.tokens)
    }
}
