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

    @Test func theGateClosesAfterMissesAndReopens() {
        var gate = SpeculationGate()
        func next(_ steps: Int) -> [Bool] { (0..<steps).map { _ in gate.opens() } }
        #expect(next(1) == [true])
        gate.record(drafted: 4, accepted: 0)
        #expect(next(1) == [true])
        gate.record(drafted: 4, accepted: 0)
        // Two misses in a row: 4 steps without drafting, then one try.
        #expect(next(5) == [false, false, false, false, true])
        gate.record(drafted: 4, accepted: 0)
        #expect(next(9) == Array(repeating: false, count: 8) + [true])
        gate.record(drafted: 4, accepted: 3)
        #expect(next(1) == [true])
        #expect(gate.misses == 0 && gate.drafted == 16 && gate.accepted == 3)
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
