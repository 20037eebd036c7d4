import Testing
@testable import KVCache

@Suite struct KVGeometryTests {
    @Test func smolLM2Figures() {
        // 2 (K and V) x 30 layers x 3 KV heads x 64 dims x 2 bytes = 23,040.
        let g = KVGeometry(layers: 30, kvHeads: 3, headDimension: 64, bytesPerVector: 128, blockSize: 16)
        #expect(g.bytesPerToken == 23_040)
        #expect(g.bytesPerBlock == 368_640)
        #expect(g.blockCount(budget: 512 << 20) == 1456)  // floor(536870912 / 368640)
        let f32 = KVGeometry(layers: 30, kvHeads: 3, headDimension: 64, bytesPerVector: 256, blockSize: 16)
        #expect(f32.bytesPerToken == 46_080)
        // q8_0: 64 bytes and two f16 scales per 64-dimension vector, 2 x 30 x 3 x 68.
        let q8 = KVGeometry(layers: 30, kvHeads: 3, headDimension: 64, bytesPerVector: 68, blockSize: 16)
        #expect(q8.bytesPerToken == 12_240)
        #expect(q8.blockCount(budget: 512 << 20) == 2741)  // floor(536870912 / 195840)
    }
}
