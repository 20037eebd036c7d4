import JSONTree
import Foundation
import Testing
import Engine
import KVCache
import Model
import TestSupport
@testable import StructuredOutput

/// A constrained turn in the engine: it continues a session like any other
/// turn (the constraint sees only the reply), its output does not depend on
/// what else is in the batch, and a budget too small for the schema is
/// refused up front.
@Suite(.serialized, .enabled(if: DefaultModel.testsEnabled, Comment(rawValue: DefaultModel.missingNote)))
struct ConstrainedTurnTests {
    static let schema = #"{"type":"object","properties":{"city":{"type":"string"},"population":{"type":"integer"},"capital":{"type":"boolean"}},"required":["city","population","capital"],"additionalProperties":false}"#

    func engine() throws -> (DecodeEngine, ModelFile, TokenMaskCache) {
        let (file, llama) = try GeneratedSchemaTests.smolLM.get()
        let arena = KVArena(hyperparameters: llama.hyperparameters, elementType: .f16, blockSize: 16, blockCount: 256)
        let engine = DecodeEngine(model: PagedDecoderModel(model: llama, arena: arena), endOfGeneration: file.endOfGeneration)
        let masks = TokenMaskCache(grammar: try JSONGrammar(schema: JSON.parse(Self.schema)), trie: TokenTrie(tokenizer: file.tokenizer),
                                   endOfGeneration: file.endOfGeneration)
        return (engine, file, masks)
    }

    func runAll(_ engine: DecodeEngine, _ requests: [GenerationRequest]) throws -> [Completion] {
        var ids: [RequestID] = []
        for r in requests { ids.append(try engine.submit(r)) }
        var done: [RequestID: Completion] = [:]
        while engine.hasWork {
            for case let .finished(id, completion) in engine.step() { done[id] = completion }
        }
        return ids.map { done[$0]! }
    }

    @Test func aConstrainedTurnContinuesASessionAndIgnoresItsBatch() throws {
        let (engine, file, masks) = try engine()
        let first = file.tokenizer.encode("We talk about cities. Paris is large.\n", addSpecial: true)
        let opening = try runAll(engine, [GenerationRequest(prompt: first, sessionID: "s", maxTokens: 8, sampling: .greedy)])[0]
        var turn = GenerationRequest(prompt: file.tokenizer.encode("Now as JSON: "), sessionID: "s", maxTokens: 60, sampling: .greedy)
        turn.constraint = OutputConstraint(masks)
        let history = try #require(engine.sessions["s"]?.tokens)
        let alone = try runAll(engine, [turn])[0]
        #expect(alone.reason == .stop && alone.stopToken != nil)
        #expect(alone.historyTokens == history.count, "the turn continues the session's \(history.count) tokens")
        let text = file.tokenizer.decode(alone.tokens)
        let parsed = try JSON.parse(text)
        #expect(parsed["city"] != nil && parsed["population"] != nil && parsed["capital"] != nil, "\(text)")
        #expect(engine.sessions["s"]?.tokens == history + turn.prompt + alone.tokens + [alone.stopToken!])
        _ = opening

        // The same turn from the same history, now beside other requests, constrained and not.
        let (other, _, _) = try self.engine()
        _ = try runAll(other, [GenerationRequest(prompt: first, sessionID: "s", maxTokens: 8, sampling: .greedy)])
        var neighbours: [GenerationRequest] = [turn]
        for n in 0..<5 {
            var r = GenerationRequest(prompt: file.tokenizer.encode("Neighbour \(n) says", addSpecial: true), maxTokens: 60)
            r.sampling.seed = UInt64(n)
            if n % 2 == 0 { r.constraint = OutputConstraint(masks) }
            neighbours.append(r)
        }
        let batched = try runAll(other, neighbours)
        #expect(batched[0].tokens == alone.tokens, "\(file.tokenizer.decode(batched[0].tokens)) vs \(text)")
    }

    /// Drafts in a constrained reply: a JSON array whose objects repeat
    /// the keys (the lookup drafts them from the prompt and the reply), token
    /// for token the reply without speculation, alone and beside sampled
    /// neighbours, and drafts were taken.
    @Test func speculationLeavesAConstrainedReplyAsItWas() throws {
        let (file, llama) = try GeneratedSchemaTests.smolLM.get()
        let masks = TokenMaskCache(grammar: try JSONGrammar(schema: JSON.parse(#"{"type":"array","items":"# + Self.schema + "}")),
                                   trie: TokenTrie(tokenizer: file.tokenizer), endOfGeneration: file.endOfGeneration)
        func engine(speculation: Bool) -> DecodeEngine {
            var limits = DecodeEngine.Limits()
            limits.speculation = speculation
            let arena = KVArena(hyperparameters: llama.hyperparameters, elementType: .f16, blockSize: 16, blockCount: 256)
            return DecodeEngine(model: PagedDecoderModel(model: llama, arena: arena), endOfGeneration: file.endOfGeneration, limits: limits)
        }
        let prompt = file.tokenizer.encode(#"Cities: [{"city":"Paris","population":2100000,"capital":true},{"city":"Lyon","population":520000,"capital":false}] "#
            + "More cities in the same JSON: ", addSpecial: true)
        var request = GenerationRequest(prompt: prompt, maxTokens: 90, sampling: .greedy)
        request.constraint = OutputConstraint(masks)
        let off = try runAll(engine(speculation: false), [request])[0]
        let on = engine(speculation: true)
        let alone = try runAll(on, [request])[0]
        #expect(alone.tokens == off.tokens, "\(file.tokenizer.decode(alone.tokens)) vs \(file.tokenizer.decode(off.tokens))")
        #expect(alone.acceptedTokens > 0, "no draft was taken: \(file.tokenizer.decode(off.tokens))")
        var neighbours = [request]
        for n in 0..<3 {
            var r = GenerationRequest(prompt: file.tokenizer.encode("Neighbour \(n) says", addSpecial: true), maxTokens: 40)
            r.sampling.seed = UInt64(n)
            neighbours.append(r)
        }
        #expect(try runAll(on, neighbours)[0].tokens == off.tokens)
    }

    @Test func aBudgetTooSmallForTheSchemaIsRefused() throws {
        let (engine, file, masks) = try engine()
        let needed = OutputConstraint(masks).minimumTokens
        #expect(needed == #"{"city":"","population":0,"capital":true}"#.utf8.count + 1)
        var request = GenerationRequest(prompt: file.tokenizer.encode("JSON:", addSpecial: true), maxTokens: needed - 1)
        request.constraint = OutputConstraint(masks)
        #expect(throws: AdmissionError.constraintNeedsTokens(needed: needed, maxTokens: needed - 1)) { try engine.submit(request) }
        request.maxTokens = needed
        let c = try runAll(engine, [request])[0]
        #expect(c.tokens.count <= needed - 1 && c.reason == .stop)
        #expect(throws: Never.self) { try JSON.parse(file.tokenizer.decode(c.tokens)) }
    }
}
