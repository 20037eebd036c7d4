import Testing
@testable import Engine
import Model

/// A request's seed is its sampler's seed: through the engine, a seeded
/// reply is the one a sampler with that seed draws directly from the
/// model's logits, equal seeds give equal replies and different seeds
/// different ones, whatever else shares the batch.
@Suite struct SeedTests {
    /// Sampling that varies: RecordingModel's logits are whole numbers from 0
    /// to 255, so temperature 40 spreads the draws over most of its 8 tokens;
    /// the filters and the repetition penalty are on so that what the engine
    /// hands the sampler (logits and history) must be right too.
    static func varied(seed: UInt64) -> SamplingParameters {
        var p = SamplingParameters()
        p.temperature = 40
        p.topK = 6
        p.topP = 0.95
        p.minP = 0.05
        p.repeatPenalty = 1.3
        p.seed = seed
        return p
    }

    static let prompt: [TokenID] = [1, 4, 2, 6]
    static let replyLength = 24

    /// The reply drawn without the engine: a sampler with these parameters
    /// over the recording model's logits of everything so far, penalizing
    /// the engine's window of recent tokens.
    static func directReply(_ parameters: SamplingParameters) -> [TokenID] {
        var sampler = Sampler(parameters), all = prompt
        for _ in 0..<replyLength {
            all.append(sampler.sample(RecordingModel.logits(all), history: Array(all.suffix(DecodeEngine.penaltyWindow))))
        }
        return Array(all.dropFirst(prompt.count))
    }

    /// The replies to `prompt` with each of `parameters`, submitted together (one batch).
    static func engineReplies(_ engine: DecodeEngine, _ parameters: [SamplingParameters]) throws -> [[TokenID]] {
        try engine.complete(parameters.map {
            GenerationRequest(prompt: prompt, maxTokens: replyLength, sampling: $0, ignoreEOS: true)
        }).map(\.tokens)
    }

    static func recordingEngine() -> DecodeEngine {
        DecodeEngine(model: RecordingModel(contextLength: 64, blockSize: 4, blockCount: 128),
                     endOfGeneration: [RecordingModel.endOfSequence], clock: { 0 })
    }

    @Test func theEngineDrawsWithTheRequestsSeed() throws {
        let seeds: [UInt64] = [0, 1, 2, 42, 0xDEAD_BEEF, .max]
        let replies = try Self.engineReplies(Self.recordingEngine(), seeds.map(Self.varied))
        for (seed, reply) in zip(seeds, replies) {
            #expect(reply == Self.directReply(Self.varied(seed: seed)), "seed \(seed)")
        }
        #expect(Set(replies).count == seeds.count, "different seeds should give different replies: \(replies)")
    }

    @Test func equalSeedsGiveEqualRepliesInOneBatchAndLater() throws {
        let engine = Self.recordingEngine()
        let together = try Self.engineReplies(engine, [Self.varied(seed: 7), Self.varied(seed: 8), Self.varied(seed: 7)])
        #expect(together[0] == together[2])
        #expect(together[0] != together[1])
        #expect(try Self.engineReplies(engine, [Self.varied(seed: 7)]) == [together[0]])
    }

    /// The sampler alone: a seed fixes the stream, and sixteen seeds give
    /// sixteen different streams over near-equal logits.
    @Test func samplerStreamsDependOnTheSeedAlone() {
        let logits: [Float] = [1, 1.2, 0.8, 1.1, 0.9, 1.05]
        func stream(_ seed: UInt64) -> [TokenID] {
            var p = SamplingParameters()
            p.temperature = 1
            p.seed = seed
            var s = Sampler(p)
            return (0..<64).map { _ in s.sample(logits) }
        }
        let streams = (0..<16).map { stream(UInt64($0)) }
        #expect(streams == (0..<16).map { stream(UInt64($0)) })
        #expect(Set(streams).count == 16)
    }
}

extension DecodeEngine {
    /// Submits `requests` together and steps until all have ended; their
    /// completions, in order.
    func complete(_ requests: [GenerationRequest]) throws -> [Completion] {
        let ids = try requests.map { try submit($0) }
        var completions: [RequestID: Completion] = [:]
        while hasWork {
            for case let .finished(id, completion) in step() { completions[id] = completion }
        }
        return ids.map { completions[$0]! }
    }
}
