import Testing
@testable import Engine
import Model

/// A reply ends at any of the model's end-of-generation tokens (EOS, end of
/// turn, the template's turn closer), which stays in the session's history
/// but not in the reply. The truth is a direct greedy loop over the
/// recording model's logits.
@Suite struct ReplyEndingTests {
    /// The greedy reply computed without the engine: ends before the first
    /// token in `stops`, or after `maxTokens`.
    func directReply(_ prompt: [TokenID], stops: Set<TokenID>, maxTokens: Int) -> (reply: [TokenID], stop: TokenID?) {
        var all = prompt, reply: [TokenID] = []
        while reply.count < maxTokens {
            let next = argmax(RecordingModel.logits(all))
            all.append(next)
            if stops.contains(next) { return (reply, next) }
            reply.append(next)
        }
        return (reply, nil)
    }

    /// Three-token prompts, enough of them that some replies end on each stop.
    static let prompts: [[TokenID]] = (0..<400).map { (n: Int) -> [TokenID] in
        [TokenID(n % 8), TokenID(n / 8 % 8), TokenID(n / 64)]
    }

    func run(_ engine: DecodeEngine, _ request: GenerationRequest) throws -> Completion {
        let id = try engine.submit(request)
        while true {
            for case let .finished(finished, completion) in engine.step() where finished == id { return completion }
        }
    }

    @Test func eachEndOfGenerationTokenEndsTheReplyAndStaysInTheHistory() throws {
        let stops: Set<TokenID> = [3, 5]
        // Prompts whose direct reply ends on each of the two tokens, so that
        // neither is special-cased.
        var endedOn: Set<TokenID> = []
        for prompt in Self.prompts {
            let expected = directReply(prompt, stops: stops, maxTokens: 12)
            guard let stop = expected.stop, !endedOn.contains(stop) else { continue }
            endedOn.insert(stop)
            let engine = DecodeEngine(model: RecordingModel(contextLength: 64, blockSize: 4, blockCount: 32),
                                      endOfGeneration: stops, clock: { 0 })
            let c = try run(engine, GenerationRequest(prompt: prompt, sessionID: "s", maxTokens: 12, sampling: .greedy))
            #expect(c.reason == FinishReason.stop && c.tokens == expected.reply && c.stopToken == stop, "prompt \(prompt)")
            #expect(engine.sessions["s"]?.tokens == prompt + expected.reply + [stop])
        }
        #expect(endedOn == stops, "the search should find a reply ending on each token")
    }

    @Test func ignoringEndOfGenerationRunsToTheLimit() throws {
        let stops: Set<TokenID> = [3, 5]
        let prompt = try #require(Self.prompts.first { directReply($0, stops: stops, maxTokens: 12).stop != nil })
        let engine = DecodeEngine(model: RecordingModel(contextLength: 64, blockSize: 4, blockCount: 32),
                                  endOfGeneration: stops, clock: { 0 })
        let c = try run(engine, GenerationRequest(prompt: prompt, maxTokens: 12, sampling: .greedy, ignoreEOS: true))
        #expect(c.reason == FinishReason.length && c.tokens == directReply(prompt, stops: [], maxTokens: 12).reply && c.stopToken == nil)
    }
}
