import Foundation
import Testing
@testable import Model

/// The q8_0 K/V cache without a model: quantization against hand-computed
/// groups and where the arena puts bytes and scales. (Attention over q8_0
/// is held to a reference over the dequantized cache in KernelTests.)
@Suite struct Q8KVCacheTests {
    /// q8_0 of a whole vector as the specification reads, written apart from
    /// `KVQuantizer` over arrays: per 32-group d = max|x| / 127, q = round(x / d)
    /// half away from zero, read back as q * f16(d).
    static func dequantized(_ x: [Float]) -> [Float] {
        stride(from: 0, to: x.count, by: 32).flatMap { start -> [Float] in
            let group = x[start..<(start + 32)]
            let d = group.map { abs($0) }.max()! / 127
            let scale = Float(Float16(d))
            return group.map { d == 0 ? 0 : ($0 / d).rounded(.toNearestOrAwayFromZero) * scale }
        }
    }

    @Test func groupsAreQuantizedByHand() {
        // A group whose largest magnitude is 127: d = 1, so q is x rounded
        // half away from zero.
        var unit = [Float](repeating: 0, count: 32)
        for (i, x) in [127, 2.5, -2.5, 0.49, -126.6, 63.5, -0.5, 1.5].enumerated() { unit[i] = Float(x) }
        var unitQ = [Int8](repeating: 0, count: 32)
        for (i, q) in [127, 3, -3, 0, -127, 64, -1, 2].enumerated() { unitQ[i] = Int8(q) }
        // Largest magnitude 63.5: d = 0.5, q = 2x.
        var half = [Float](repeating: 0, count: 32)
        for (i, x) in [0.25, -0.75, 10, 0.2, 0, 0, 0, 0, 0, -63.5].enumerated() { half[i] = Float(x) }
        var halfQ = [Int8](repeating: 0, count: 32)
        for (i, q) in [1, -2, 20, 0, 0, 0, 0, 0, 0, -127].enumerated() { halfQ[i] = Int8(q) }
        let zeros = [Float](repeating: 0, count: 32)
        for (x, q, d) in [(unit, unitQ, Float16(1)), (half, halfQ, Float16(0.5)), (zeros, [Int8](repeating: 0, count: 32), Float16(0))] {
            var out = [Int8](repeating: 99, count: 32)
            let scale = x.withUnsafeBufferPointer { xs in
                out.withUnsafeMutableBufferPointer { KVQuantizer.quantize(xs.baseAddress!, into: $0.baseAddress!, step: 1) }
            }
            #expect(out == q)
            #expect(scale.bitPattern == d.bitPattern)
        }
    }

    /// Stores one position's keys and values (two heads of 64 dimensions)
    /// and compares the whole block with one laid out by hand.
    @Test func bytesAndScalesLieWhereTheLayoutSays() {
        let heads = 2, hd = 64, blockSize = 8, slot = 3
        let arena = KVArena(layers: 1, kvHeads: heads, headDimension: hd, elementType: .q8_0, blockSize: blockSize, blockCount: 2)
        // A head's piece of a block: 8 slots x (64 bytes + 2 f16 scales).
        #expect(arena.segmentBytes == 8 * 68 && arena.bytesPerBlock == 4 * 8 * 68)
        // Head 0: group 0 has d = 1 (q = x), group 1 d = 0.5 (q = 2x); head 1:
        // group 0 all zero, group 1 d = 1.
        var row = [Float](repeating: 0, count: heads * hd)
        var q = [Int8](repeating: 0, count: heads * hd)
        for i in 0..<32 {
            row[i] = Float(i) - 16; q[i] = Int8(i - 16)
            row[32 + i] = Float(i) / 4; q[32 + i] = Int8(i) / 2 + (i % 2 == 1 ? 1 : 0)  // i/2 rounded half up
            row[96 + i] = -Float(i) * 4; q[96 + i] = -Int8(i) * 4
        }
        row[0] = -127; q[0] = -127
        row[32 + 31] = 63.5; q[32 + 31] = 127
        row[96] = 127; q[96] = 127; row[97] = -127; q[97] = -127; row[98] = -0.5; q[98] = -1
        let scales: [[Float16]] = [[1, 0.5], [0, 1]]  // [head][group]
        for value in [false, true] {
            row.withUnsafeBufferPointer { arena.store($0.baseAddress!, elements: 0..<(heads * hd), block: 1, slot: slot, layer: 0, value: value) }
        }
        var expected = [UInt8](repeating: 0, count: arena.bytesPerBlock)
        func put(_ scale: Float16, at offset: Int) {
            expected[offset] = UInt8(scale.bitPattern & 0xFF); expected[offset + 1] = UInt8(scale.bitPattern >> 8)
        }
        for head in 0..<heads {
            let keys = head * 544, values = (heads + head) * 544
            for d in 0..<hd {
                expected[keys + d * blockSize + slot] = UInt8(bitPattern: q[head * hd + d])
                expected[values + slot * hd + d] = UInt8(bitPattern: q[head * hd + d])
            }
            for g in 0..<2 {
                put(scales[head][g], at: keys + 512 + (g * blockSize + slot) * 2)
                put(scales[head][g], at: values + 512 + (slot * 2 + g) * 2)
            }
        }
        #expect(arena.blockBytes(1) == expected)
        #expect(arena.blockBytes(0).allSatisfy { $0 == 0 })
    }

    /// A model whose heads are not whole 32-groups (the tiny test model's
    /// 16 dimensions) cannot have a q8_0 cache: refused with the setting to
    /// change; f16 and f32 take it.
    @Test func q8_0IsRefusedForHeadsThatAreNotWholeGroups() throws {
        let headDimension = try TinyLlamaFile().model().hyperparameters.headDimension
        #expect(headDimension == 16)
        #expect(throws: KVTypeUnsupported(elementType: .q8_0, headDimension: 16)) {
            try KVElementType.q8_0.requireSupported(headDimension: headDimension)
        }
        #expect("\(KVTypeUnsupported(elementType: .q8_0, headDimension: 16))".contains("KVSERVE_KV_CACHE_TYPE"))
        try KVElementType.f16.requireSupported(headDimension: headDimension)
        try KVElementType.f32.requireSupported(headDimension: headDimension)
        try KVElementType.q8_0.requireSupported(headDimension: 64)
    }
}
