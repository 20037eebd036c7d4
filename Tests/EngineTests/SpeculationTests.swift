import Testing
@testable import Engine
import Model

/// Greedy replies with prompt-lookup speculation against the same replies
/// without it: token for token, alone and in a batch, in sessions, with
/// preemption. RecordingModel's logits hash every slot a row reads, so a
/// rejected draft left in the cache, or a row read at the wrong position,
/// changes the replies.
struct SpeculationTests {
    static func engine(speculation: Bool, blocks: Int = 256, batch: Int = 16) -> (DecodeEngine, RecordingModel) {
        let model = RecordingModel(contextLength: 1024, blockSize: 4, blockCount: blocks)
        var limits = DecodeEngine.Limits()
        limits.maxPrefillTokensPerStep = 16
        limits.maxBatchSequences = batch
        limits.speculation = speculation
        return (DecodeEngine(model: model, endOfGeneration: [RecordingModel.endOfSequence], limits: limits), model)
    }

    /// Prompts that repeat themselves (drafts find matches) and ones that do not.
    static let prompts: [[TokenID]] = (0..<12).map { k in
        let motif: [TokenID] = (0..<(3 + k % 4)).map { TokenID(($0 * 3 + k) % 7) }
        return k % 3 == 2 ? (0..<20).map { TokenID(($0 * $0 + k) % 7) } : Array(repeating: motif, count: 4).flatMap { $0 }
    }

    static func replies(_ engine: DecodeEngine, _ prompts: [[TokenID]], maxTokens: Int = 40, ignoreEOS: Bool = false) throws -> [[TokenID]] {
        var ids: [RequestID] = []
        for p in prompts { ids.append(try engine.submit(GenerationRequest(prompt: p, maxTokens: maxTokens, sampling: .greedy, ignoreEOS: ignoreEOS))) }
        var out: [RequestID: [TokenID]] = [:]
        while engine.hasWork {
            for case let .finished(id, c) in engine.step() { out[id] = c.tokens + [c.stopToken].compactMap { $0 } }
        }
        return ids.map { out[$0]! }
    }

    @Test(arguments: [false, true])
    func greedyRepliesAreTheSameWithAndWithoutSpeculation(_ ignoreEOS: Bool) throws {
        let (off, _) = Self.engine(speculation: false)
        let (on, model) = Self.engine(speculation: true)
        let expected = try Self.prompts.map { try Self.replies(off, [$0], ignoreEOS: ignoreEOS)[0] }
        // Against the model's own greedy reply, computed without any cache.
        for (p, reply) in zip(Self.prompts, expected) {
            let direct = RecordingModel.greedyReply(to: p, maxTokens: 40, ignoreEOS: ignoreEOS)
            #expect(reply == direct.reply + (direct.history.count > p.count + direct.reply.count ? [RecordingModel.endOfSequence] : []))
        }
        // Alone, then all at once.
        for (p, reply) in zip(Self.prompts, expected) { #expect(try Self.replies(on, [p], ignoreEOS: ignoreEOS)[0] == reply) }
        #expect(try Self.replies(on, Self.prompts, ignoreEOS: ignoreEOS) == expected)
        #expect(model.violations.isEmpty, "\(model.violations.prefix(3))")
        #expect(on.cache.checkInvariants() == nil)
    }

    @Test func draftsAreCheckedInFewerPasses() throws {
        let (off, offModel) = Self.engine(speculation: false)
        let (on, onModel) = Self.engine(speculation: true)
        let repetitive = Self.prompts[0]
        #expect(try Self.replies(off, [repetitive], maxTokens: 64, ignoreEOS: true) == Self.replies(on, [repetitive], maxTokens: 64, ignoreEOS: true))
        #expect(onModel.forwardCalls < offModel.forwardCalls, "on \(onModel.forwardCalls), off \(offModel.forwardCalls)")
    }

    @Test func aSmallPoolPreemptsSpeculatingSequencesWithoutChangingReplies() throws {
        let (off, _) = Self.engine(speculation: false, blocks: 40, batch: 6)
        let (on, model) = Self.engine(speculation: true, blocks: 40, batch: 6)
        let prompts = Array(Self.prompts.prefix(6))
        #expect(try Self.replies(on, prompts, maxTokens: 60, ignoreEOS: true) == Self.replies(off, prompts, maxTokens: 60, ignoreEOS: true))
        #expect(model.violations.isEmpty && on.cache.checkInvariants() == nil)
    }

    /// Every token event (with its logprobs) of each request, in order.
    static func events(_ engine: DecodeEngine, _ requests: [GenerationRequest]) throws -> [[EngineEvent]] {
        var ids: [RequestID] = []
        for r in requests { ids.append(try engine.submit(r)) }
        var out: [RequestID: [EngineEvent]] = [:]
        while engine.hasWork {
            for event in engine.step() {
                switch event {
                case .token(let id, _, _, _), .finished(let id, _): out[id, default: []].append(event)
                }
            }
        }
        return ids.map { out[$0]! }
    }

    /// Logprobs and a reasoning budget ride along with drafts: the same
    /// token events, logprobs included, and the same forced closing tokens
    /// as without speculation, alone and batched.
    @Test func logprobsAndReasoningBudgetsAreTheSameWithDrafts() throws {
        let requests = Self.prompts.enumerated().map { k, prompt in
            var r = GenerationRequest(prompt: prompt, maxTokens: 40, sampling: .greedy, ignoreEOS: true)
            if k % 2 == 0 { r.topLogprobs = 3 }
            if k % 3 == 0 { r.reasoningBudget = IdlePrefillTests.budget(6, startsInside: true) }
            return r
        }
        func tokens(_ events: [EngineEvent]) -> [TokenID] { events.compactMap { if case .token(_, _, let t, _) = $0 { t } else { nil } } }
        func logprobs(_ events: [EngineEvent]) -> [TokenLogprobs?] { events.compactMap { if case .token(_, _, _, let l) = $0 { l } else { nil } } }
        let (off, _) = Self.engine(speculation: false)
        let expected = try requests.map { try Self.events(off, [$0])[0] }
        let (on, model) = Self.engine(speculation: true)
        let alone = try requests.map { try Self.events(on, [$0])[0] }
        let together = try Self.events(on, requests)
        for got in [alone, together] {
            #expect(got.map(tokens) == expected.map(tokens))
            #expect(got.map(logprobs) == expected.map(logprobs))
        }
        // The budgeted ones were forced to close, and drafts were taken.
        #expect(tokens(expected[0]).contains(2))
        let accepted = alone.compactMap { $0.last }.reduce(0) { if case .finished(_, let c) = $1 { $0 + c.acceptedTokens } else { $0 } }
        #expect(accepted > 0)
        #expect(model.violations.isEmpty && on.cache.checkInvariants() == nil)
    }

    /// Lengths worked by hand from the rule: the k with the largest
    /// (1 + p + ... + p^k) / (1 + cost * k), 0 when none beats 1.
    @Test func theGateDraftsWhatPaysForItself() {
        var gate = SpeculationGate()
        gate.observe(held: true)  // 0.5 + 0.25 * 0.5
        #expect(gate.acceptance == 0.625)
        // k = 1: 1.625 / 1.2 = 1.354; k = 2: 2.016 / 1.4 = 1.440; k = 3: 2.260 / 1.6 = 1.412.
        #expect(gate.length(cost: 0.2) == 2)
        gate = SpeculationGate()
        gate.observe(held: false)
        #expect(gate.acceptance == 0.375)
        // k = 1: 1.375 / 1.2 = 1.146; k = 2: 1.516 / 1.4 = 1.083.
        #expect(gate.length(cost: 0.2) == 1)
        // k = 1: 1.375 / 1.5 < 1: not worth a position.
        #expect(gate.length(cost: 0.5) == 0)
        // A draft of 4 of which 2 held: two hits, then the miss.
        gate = SpeculationGate()
        gate.record(drafted: 4, accepted: 2)
        #expect(gate.acceptance == 0.5390625 && gate.drafted == 4 && gate.accepted == 2)
        // A long quotation: the estimate saturates at 0.99 and drafts run to the longest.
        for _ in 0..<40 { gate.observe(held: true) }
        #expect(gate.acceptance == 0.99 && gate.length(cost: 0.2) == SpeculationGate.longestDraft)
        // Prose after it: misses bring it down to no drafting within a few tokens.
        var misses = 0
        while gate.length(cost: 0.2) > 0 { gate.observe(held: false); misses += 1 }
        #expect(misses == 6 && gate.acceptance < 0.2)
    }

    /// Seeded sampled replies with drafts: the same stream alone, in a
    /// batch of 12 and when a small pool preempts them (each sequence's
    /// draft lengths depend on its own tokens only), and drafts were taken.
    @Test func aSeedReproducesItsSampledStreamInAnyBatch() throws {
        func sampled(_ k: Int) -> SamplingParameters {
            var s = SamplingParameters()
            // RecordingModel's logits are bytes: a high temperature spreads them.
            s.temperature = 24
            s.seed = 0xD1CE + UInt64(k)
            return s
        }
        func run(_ engine: DecodeEngine, _ ks: [Int]) throws -> (replies: [[TokenID]], accepted: Int) {
            var ids: [RequestID] = []
            for k in ks {
                ids.append(try engine.submit(GenerationRequest(prompt: Self.prompts[k], maxTokens: 48, sampling: sampled(k), ignoreEOS: true)))
            }
            var out: [RequestID: [TokenID]] = [:], accepted = 0
            while engine.hasWork {
                for case let .finished(id, c) in engine.step() { out[id] = c.tokens; accepted += c.acceptedTokens }
            }
            return (ids.map { out[$0]! }, accepted)
        }
        let ks = Array(0..<12)
        let (alone, model) = Self.engine(speculation: true)
        let single = try ks.map { try run(alone, [$0]) }
        #expect(single.map(\.accepted).reduce(0, +) > 0, "no draft was accepted: the test checks nothing of speculation")
        let (together, _) = Self.engine(speculation: true)
        #expect(try run(together, ks).replies == single.map { $0.replies[0] })
        let (small, smallModel) = Self.engine(speculation: true, blocks: 40, batch: 6)
        #expect(try run(small, ks).replies == single.map { $0.replies[0] })
        #expect(model.violations.isEmpty && smallModel.violations.isEmpty && small.cache.checkInvariants() == nil)
    }

    /// A drafted position's share of a step: a quarter alone, half with
    /// two sequences, a whole share from four on, where no draft pays
    /// (k tokens at any acceptance p < 1: 1 + p + ... + p^k < 1 + k).
    @Test func aPositionCostsMoreInAFullBatch() {
        #expect(SpeculationGate.cost(decoding: 1) == 0.25 && SpeculationGate.cost(decoding: 2) == 0.5)
        #expect(SpeculationGate.cost(decoding: 4) == 1 && SpeculationGate.cost(decoding: 16) == 1)
        var gate = SpeculationGate()
        for _ in 0..<40 { gate.observe(held: true) }
        #expect(gate.length(cost: SpeculationGate.cost(decoding: 16)) == 0)
        #expect(gate.length(cost: SpeculationGate.cost(decoding: 1)) == SpeculationGate.longestDraft)
    }
}

/// The default model: greedy replies to input-grounded prompts with and
/// without speculation, token for token, alone and in a batch, and how
/// many passes and how long each took (printed, not asserted: timing is
/// for the benchmark).
@Suite(.serialized, .enabled(if: TestModel.enabled, TestModel.missingNote))
struct SpeculationOnTheModelTests {
    static let prompts = [
        "Fix the spelling in this text and return it whole: The quik brown fox jumpd over the lazzy dog. It was a sunny day and the fox was very hapy.",
        "Convert to JSON with keys name, age and city for each person: Alice is 30 and lives in Paris. Bob is 25 and lives in Rome. Carol is 41 and lives in Oslo.",
        "Write a short story about a lighthouse keeper who finds a message in a bottle.",
        "Repeat this list exactly: apples, pears, plums, cherries, apples, pears, plums, cherries, apples, pears.",
    ]

    func run(speculation: Bool, together: Bool) throws -> (replies: [[TokenID]], seconds: Double) {
        let (file, llama) = try TestModel.loaded.get()
        let template = try #require(file.chatTemplate)
        let arena = KVArena(hyperparameters: llama.hyperparameters, elementType: .f16, blockSize: 16, blockCount: 256)
        var limits = DecodeEngine.Limits()
        limits.speculation = speculation
        let engine = DecodeEngine(model: PagedDecoderModel(model: llama, arena: arena), endOfGeneration: file.endOfGeneration, limits: limits)
        let prompts = try Self.prompts.map {
            file.tokenizer.encode(chatPrompt: try template.prompt([ChatMessage(role: "user", content: $0)], addGenerationPrompt: true))
        }
        let start = EngineClock.seconds()
        var replies: [[TokenID]] = []
        if together {
            var ids: [RequestID] = []
            for p in prompts { ids.append(try engine.submit(GenerationRequest(prompt: p, maxTokens: 96, sampling: .greedy))) }
            var out: [RequestID: [TokenID]] = [:]
            while engine.hasWork { for case let .finished(id, c) in engine.step() { out[id] = c.tokens } }
            replies = ids.map { out[$0]! }
        } else {
            for p in prompts {
                let id = try engine.submit(GenerationRequest(prompt: p, maxTokens: 96, sampling: .greedy))
                var done = false
                while !done { for case let .finished(f, c) in engine.step() where f == id { replies.append(c.tokens); done = true } }
            }
        }
        #expect(engine.cache.checkInvariants() == nil)
        return (replies, EngineClock.seconds() - start)
    }

    @Test func greedyRepliesAreTheSame() throws {
        let off = try run(speculation: false, together: false), on = try run(speculation: true, together: false)
        #expect(on.replies == off.replies)
        let batchOn = try run(speculation: true, together: true)
        #expect(batchOn.replies == off.replies)
        print("speculation: alone \(String(format: "%.2f", off.seconds)) s off, \(String(format: "%.2f", on.seconds)) s on; batched on \(String(format: "%.2f", batchOn.seconds)) s")
    }
}
