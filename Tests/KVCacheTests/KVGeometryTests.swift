import Testing
@testable import KVCache

@Suite struct KVGeometryTests {
    @Test func smolLM2Figures() {
        // 2 (K and V) x 30 layers x 3 KV heads x 64 dims x 2 bytes = 23,040.
        let g = KVGeometry(layers: 30, kvHeads: 3, headDimension: 64, bytesPerElement: 2, blockSize: 16)
        #expect(g.bytesPerToken == 23_040)
        #expect(g.bytesPerBlock == 368_640)
        #expect(g.blockCount(budget: 512 << 20) == 1456)  // floor(536870912 / 368640)
        let f32 = KVGeometry(layers: 30, kvHeads: 3, headDimension: 64, bytesPerElement: 4, blockSize: 16)
        #expect(f32.bytesPerToken == 46_080)
    }
}
