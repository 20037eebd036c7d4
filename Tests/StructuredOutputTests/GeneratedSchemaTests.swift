import JSONTree
import Foundation
import Testing
import Engine
import KVCache
import Model
import TestSupport
@testable import StructuredOutput

/// 200 generated schemas the code was not written against: every output
/// parses and validates (Python's jsonschema judges), ends within its
/// token budget, and no step leaves the sampler without an allowed token
/// (a dead end fails the test, never hangs it). Driven by random choices
/// among the allowed tokens, and by the real model greedy and sampled.
@Suite(.serialized, .enabled(if: DefaultModel.testsEnabled, Comment(rawValue: DefaultModel.missingNote)))
struct GeneratedSchemaTests {
    static let schemaCount = 200

    /// SmolLM2, its tokenizer and its weights, loaded once.
    static let smolLM: Result<(ModelFile, DecoderModel), Error> = Result {
        let file = try ModelFile(path: DefaultModel.path)
        return (file, try DecoderModel(file: file))
    }

    static let schemas: [JSON] = {
        var generator = SchemaGenerator(seed: 2026)
        return (0..<schemaCount).map { _ in generator.schema() }
    }()

    /// What one constrained generation produced.
    struct Outcome {
        var bytes: [UInt8] = []
        var tokens = 0
        var endedOnEndOfGeneration = false
        var deadEnd: String?
    }

    /// Generates with uniformly random choices among the allowed tokens.
    static func randomWalk(_ masks: TokenMaskCache, maxTokens: Int, seed: UInt64) -> Outcome {
        var random = SplitMix64(seed: seed)
        var constraint = OutputConstraint(masks)
        var outcome = Outcome()
        for step in 0..<maxTokens {
            let allowed = constraint.mask(remainingTokens: maxTokens - step).allowedTokens
            guard let token = allowed.randomElement(using: &random) else {
                outcome.deadEnd = "no allowed token after \(outcome.bytes.count) bytes: \(String(decoding: outcome.bytes, as: UTF8.self))"
                return outcome
            }
            guard constraint.accept(token) else {
                outcome.deadEnd = "the mask allowed token \(token), which the automaton refuses"
                return outcome
            }
            outcome.tokens += 1
            if masks.endOfGeneration.contains(token) {
                outcome.endedOnEndOfGeneration = true
                return outcome
            }
            outcome.bytes += masks.trie.piece(of: token)!
        }
        return outcome
    }

    @Test func everySchemaCompiles() throws {
        for (i, schema) in Self.schemas.enumerated() {
            do { _ = try JSONGrammar(schema: schema) } catch { Issue.record("schema \(i): \(error)\n\(schema.serialized)") }
        }
    }

    @Test(.enabled(if: SchemaValidator.enabled, "python3 with jsonschema is needed (pip install jsonschema)"))
    func randomChoicesAlwaysValidateWithinBudget() throws {
        let (file, _) = try Self.smolLM.get()
        let trie = TokenTrie(tokenizer: file.tokenizer)
        // Steering counts a token per byte of the shortest completion: every
        // byte such a completion can hold has a token of its own (SmolLM2
        // lacks some control bytes, which JSON escapes, bytes UTF-8 never
        // uses, and the lead bytes of planes 4-16, which no schema here uses).
        let unneeded = Set<UInt8>(0..<0x20).union([0xC0, 0xC1]).union(0xF1...0xFF)
        #expect(Set(trie.bytesWithoutSingleToken).isSubset(of: unneeded), "\(trie.bytesWithoutSingleToken)")
        var cases: [SchemaValidator.Case] = [], problems: [String] = []
        for (i, schema) in Self.schemas.enumerated() {
            let masks = TokenMaskCache(grammar: try JSONGrammar(schema: schema), trie: trie, endOfGeneration: file.endOfGeneration)
            let minimum = OutputConstraint(masks).minimumTokens
            for seed in 0..<4 {
                // Budgets from the tightest possible to roomy.
                let maxTokens = minimum + [0, 3, 20, 120][seed]
                let outcome = Self.randomWalk(masks, maxTokens: maxTokens, seed: UInt64(i * 10 + seed))
                let label = "schema \(i) seed \(seed) max_tokens \(maxTokens)"
                if let deadEnd = outcome.deadEnd { problems.append("\(label): \(deadEnd)"); continue }
                if !outcome.endedOnEndOfGeneration { problems.append("\(label): did not end within the budget") }
                cases.append(SchemaValidator.Case(schema: schema, output: outcome.bytes, label: label))
            }
        }
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))")
        let invalid = try SchemaValidator.failures(cases)
        #expect(invalid.isEmpty, "\(invalid.count) of \(cases.count) invalid:\n\(invalid.prefix(10).joined(separator: "\n"))")
    }

    @Test(.enabled(if: SchemaValidator.enabled, "python3 with jsonschema is needed (pip install jsonschema)"))
    func theModelAlwaysValidatesGreedyAndSampled() throws {
        let (file, llama) = try Self.smolLM.get()
        let trie = TokenTrie(tokenizer: file.tokenizer)
        let arena = KVArena(hyperparameters: llama.hyperparameters, elementType: .f16, blockSize: 16, blockCount: 768)
        let engine = DecodeEngine(model: PagedDecoderModel(model: llama, arena: arena), endOfGeneration: file.endOfGeneration)
        var labels: [RequestID: (schema: Int, label: String, maxTokens: Int)] = [:]
        var pending: [GenerationRequest] = [], pendingLabels: [(Int, String, Int)] = []
        for (i, schema) in Self.schemas.enumerated() {
            let masks = TokenMaskCache(grammar: try JSONGrammar(schema: schema), trie: trie, endOfGeneration: file.endOfGeneration)
            let constraint = OutputConstraint(masks)
            // Some budgets force the output closed early; the rest leave room.
            let maxTokens = constraint.minimumTokens + (i % 4 == 0 ? 2 : 48)
            let prompt = file.tokenizer.encode("Reply with JSON that matches this schema.\nSchema: \(schema.serialized)\nJSON: ", addSpecial: true)
            for (run, temperature) in [(0, Float(0)), (1, 1), (2, 1)] {
                var sampling = SamplingParameters()
                sampling.temperature = temperature
                sampling.seed = UInt64(i * 3 + run)
                var request = GenerationRequest(prompt: prompt, maxTokens: maxTokens, sampling: sampling)
                request.constraint = constraint
                pending.append(request)
                pendingLabels.append((i, "schema \(i) \(temperature == 0 ? "greedy" : "T=1 seed \(sampling.seed!)") max_tokens \(maxTokens)", maxTokens))
            }
        }
        var cases: [SchemaValidator.Case] = [], problems: [String] = []
        var next = 0
        func submitWhileRoom() throws {
            while next < pending.count && engine.waitingCount + engine.runningCount < 16 {
                let id = try engine.submit(pending[next])
                labels[id] = pendingLabels[next]
                next += 1
            }
        }
        try submitWhileRoom()
        while engine.hasWork {
            for case let .finished(id, completion) in engine.step() {
                let (schema, label, maxTokens) = labels.removeValue(forKey: id)!
                if completion.reason != .stop || completion.stopToken == nil {
                    problems.append("\(label): ended \(completion.reason) without end-of-generation after \(completion.tokens.count) tokens")
                }
                if completion.tokens.count + 1 > maxTokens { problems.append("\(label): \(completion.tokens.count) tokens") }
                let bytes = completion.tokens.flatMap { trie.piece(of: $0) ?? [] }
                cases.append(SchemaValidator.Case(schema: Self.schemas[schema], output: bytes, label: label))
            }
            try submitWhileRoom()
        }
        #expect(cases.count == pending.count)
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))")
        let invalid = try SchemaValidator.failures(cases)
        #expect(invalid.isEmpty, "\(invalid.count) of \(cases.count) invalid:\n\(invalid.prefix(10).joined(separator: "\n"))")
    }
}

