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
}
