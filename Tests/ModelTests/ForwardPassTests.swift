import Foundation
import Testing
@testable import Model

/// The forward pass's own invariants: the KV cache, chunking and batching
/// are invisible in the output, bit for bit (docs/architecture.md, batch
/// invariance).
@Suite(.enabled(if: TestResources.modelTestsEnabled, TestResources.modelMissingNote))
struct ForwardPassTests {
    static let llama: Result<DecoderModel, Error> = Result { try DecoderModel(file: TestResources.requireModel()) }

    func arena(_ model: DecoderModel, blocks: Int, type: KVElementType = .f16) -> KVArena {
        KVArena(hyperparameters: model.hyperparameters, elementType: type, blockSize: 16, blockCount: blocks)
    }

    func prompt(_ text: String) throws -> [TokenID] {
        try TestResources.requireModel().tokenizer.encode(text)
    }

    /// f16, and q8_0, whose per-position quantization must be as invisible.
    static let types: [KVElementType] = [.f16, .q8_0]

    @Test(arguments: types) func cachedDecodingEqualsFullRecomputation(_ type: KVElementType) throws {
        let model = try Self.llama.get()
        var tokens = try prompt("The capital of France is")
        let table = (0..<8).map { Int32($0) }
        let cached = arena(model, blocks: 8, type: type), scratch = arena(model, blocks: 8, type: type)
        var logits = model.forward([ForwardSequence(tokens: tokens, startPosition: 0, blockTable: table)], cache: cached)[0]!
        for step in 0..<64 {
            let recomputed = model.forward([ForwardSequence(tokens: tokens, startPosition: 0, blockTable: table)], cache: scratch)[0]!
            #expect(logits == recomputed, "logits differ at step \(step)")
            let next = argmax(logits)
            tokens.append(next)
            logits = model.forward([ForwardSequence(tokens: [next], startPosition: tokens.count - 1, blockTable: table)], cache: cached)[0]!
        }
    }

    @Test(arguments: types) func prefillChunkingIsInvisible(_ type: KVElementType) throws {
        let model = try Self.llama.get()
        let tokens = try prompt("Once upon a time, in a small village at the edge of a great forest, there lived an old clockmaker who")
        #expect(tokens.count > 20)
        let table: [Int32] = [3, 0, 5, 1]  // any blocks, in any order
        let whole = arena(model, blocks: 6, type: type)
        let expected = model.forward([ForwardSequence(tokens: tokens, startPosition: 0, blockTable: table)], cache: whole)[0]!
        var rng = SplitMix64(seed: 7)
        for chunking in 0..<3 {
            let chunked = arena(model, blocks: 6, type: type)
            var start = 0
            var last: [Float]? = nil
            while start < tokens.count {
                // Chunk sizes: single tokens, then random sizes.
                let size = chunking == 0 ? 1 : 1 + Int(rng.next() % 9)
                let end = min(tokens.count, start + size)
                last = model.forward([ForwardSequence(tokens: Array(tokens[start..<end]), startPosition: start, blockTable: table)], cache: chunked)[0]
                start = end
            }
            #expect(last == expected, "chunking \(chunking)")
            for block in table { #expect(chunked.blockBytes(block) == whole.blockBytes(block), "K/V of block \(block)") }
        }
    }

    @Test(arguments: types) func batchingIsInvisible(_ type: KVElementType) throws {
        let model = try Self.llama.get()
        let a = try prompt("def fibonacci(n):")
        let b = try prompt("The quick brown fox jumps over the lazy dog, and then")
        let alone = arena(model, blocks: 8, type: type), together = arena(model, blocks: 8, type: type)
        let tableA: [Int32] = [0, 1, 2], tableB: [Int32] = [4, 5, 6]
        let soloA = model.forward([ForwardSequence(tokens: a, startPosition: 0, blockTable: tableA)], cache: alone)[0]!
        let soloB = model.forward([ForwardSequence(tokens: b, startPosition: 0, blockTable: tableB)], cache: alone)[0]!
        let both = model.forward([
            ForwardSequence(tokens: a, startPosition: 0, blockTable: tableA),
            ForwardSequence(tokens: b, startPosition: 0, blockTable: tableB),
        ], cache: together)
        #expect(both[0]! == soloA && both[1]! == soloB)
        // One decode step each, alone and in one batch.
        let nextA = argmax(soloA), nextB = argmax(soloB)
        let stepA = model.forward([ForwardSequence(tokens: [nextA], startPosition: a.count, blockTable: tableA)], cache: alone)[0]!
        let stepB = model.forward([ForwardSequence(tokens: [nextB], startPosition: b.count, blockTable: tableB)], cache: alone)[0]!
        let stepBoth = model.forward([
            ForwardSequence(tokens: [nextA], startPosition: a.count, blockTable: tableA),
            ForwardSequence(tokens: [nextB], startPosition: b.count, blockTable: tableB),
        ], cache: together)
        #expect(stepBoth[0]! == stepA && stepBoth[1]! == stepB)
    }
}
