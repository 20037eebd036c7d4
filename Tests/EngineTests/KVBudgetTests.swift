import Testing
@testable import Engine
import Model

@Suite(.enabled(if: TestModel.enabled, TestModel.missingNote))
struct KVBudgetTests {
    @Test func thePoolIsTheWholeBlocksTheBudgetHolds() throws {
        let (_, llama) = try TestModel.loaded.get()
        // SmolLM2-135M: 30 layers x K and V x 3 KV heads x 64 dimensions x 16 positions x 2 bytes.
        let perBlock = 30 * 2 * 3 * 64 * 16 * 2
        #expect(PagedDecoderModel.geometry(llama.hyperparameters, blockSize: 16, elementType: .f16).bytesPerBlock == perBlock)
        let paged = try PagedDecoderModel(model: llama, kvCacheBytes: 10 * perBlock + perBlock - 1, blockSize: 16, elementType: .f16)
        #expect(paged.blockCount == 10 && paged.arena.byteCount == 10 * perBlock)
        let f32 = try PagedDecoderModel(model: llama, kvCacheBytes: 10 * perBlock, blockSize: 32, elementType: .f32)
        #expect(f32.blockCount == 2 && f32.arena.byteCount <= 10 * perBlock)
        #expect(throws: KVBudgetError.self) { try PagedDecoderModel(model: llama, kvCacheBytes: perBlock - 1, blockSize: 16, elementType: .f16) }
    }

    /// q8_0 takes 64 bytes and two f16 scales per 64-dimension vector, 68 where
    /// f16 takes 128, so one budget holds at least 1.8x the blocks (1.88x).
    @Test func q8_0HoldsNearlyTwiceTheBlocksOfF16() throws {
        let (_, llama) = try TestModel.loaded.get()
        let perToken = 30 * 2 * 3 * (64 + 2 * 2)
        let geometry = PagedDecoderModel.geometry(llama.hyperparameters, blockSize: 16, elementType: .q8_0)
        #expect(geometry.bytesPerToken == 12_240 && perToken == 12_240 && geometry.bytesPerBlock == 16 * perToken)
        let budget = 64 << 20
        let f16 = try PagedDecoderModel(model: llama, kvCacheBytes: budget, blockSize: 16, elementType: .f16)
        let q8 = try PagedDecoderModel(model: llama, kvCacheBytes: budget, blockSize: 16, elementType: .q8_0)
        #expect(q8.blockCount == budget / (16 * perToken) && q8.arena.byteCount == q8.blockCount * 16 * perToken)
        #expect(Double(q8.blockCount) / Double(f16.blockCount) >= 1.8, "\(q8.blockCount) q8_0 blocks against \(f16.blockCount) f16")
    }
}
