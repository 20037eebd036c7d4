import Foundation
import Testing
@testable import Model

/// The SIMD kernels against plain scalar arithmetic written from the block
/// formats' definitions, in Double.
struct KernelTests {
    /// Random bytes for `blocks` weight blocks of `type`, with sane f16 scales.
    func randomRow(_ type: TensorType, blocks: Int, _ rng: inout SplitMix64) -> [UInt8] {
        let blockBytes = type.rowBytes(32)
        var bytes = (0..<(blocks * blockBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let scaleCount = type.id == TensorType.q4_1.id ? 2 : 1
        for b in 0..<blocks {
            for k in 0..<scaleCount {
                let value = Float16(Float(Int(rng.next() % 2001) - 1000) / 40_000)
                withUnsafeBytes(of: value.bitPattern.littleEndian) { raw in
                    bytes[b * blockBytes + 2 * k] = raw[0]
                    bytes[b * blockBytes + 2 * k + 1] = raw[1]
                }
            }
        }
        return bytes
    }

    func randomVector(_ n: Int, _ rng: inout SplitMix64) -> [Float] {
        (0..<n).map { i in
            // Mixed magnitudes, some exact zeros, one block all zero.
            if i / 32 == 2 { return 0 }
            return Float(Int(rng.next() % 20001) - 10000) / 1000 * (i % 7 == 0 ? 30 : 1)
        }
    }

    func half(_ bytes: [UInt8], _ offset: Int) -> Double {
        Double(Float(Float16(bitPattern: UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8)))
    }

    /// Weight q-values of a block in natural order, and (d, m) with x = q * d + m.
    func weights(_ type: TensorType, _ row: [UInt8], block b: Int) -> (q: [Int], d: Double, m: Double) {
        let base = b * type.rowBytes(32)
        switch type.id {
        case TensorType.q4_0.id:
            let q = (0..<32).map { j in Int(j < 16 ? row[base + 2 + j] & 0xF : row[base + 2 + j - 16] >> 4) - 8 }
            return (q, half(row, base), 0)
        case TensorType.q4_1.id:
            let q = (0..<32).map { j in Int(j < 16 ? row[base + 4 + j] & 0xF : row[base + 4 + j - 16] >> 4) }
            return (q, half(row, base), half(row, base + 2))
        default:
            let q = (0..<32).map { j in Int(Int8(bitPattern: row[base + 2 + j])) }
            return (q, half(row, base), 0)
        }
    }

    /// llama.cpp's 8-bit activation blocks, from their definition.
    func quantize(_ x: [Float], block b: Int) -> (q: [Int], d: Double, s: Double) {
        let values = x[(32 * b)..<(32 * b + 32)]
        let amax = values.map { abs($0) }.max()!
        let inverse: Float = amax == 0 ? 0 : 127 / amax
        let q = values.map { Int(($0 * inverse).rounded(.toNearestOrEven)) }
        let d = Float(Float16(amax / 127))
        let s = Float(Float16(amax / 127 * Float(q.reduce(0, +))))
        return (q, Double(d), Double(s))
    }

    static let formats: [TensorType] = [.q4_0, .q4_1, .q8_0]

    @Test(arguments: formats)
    func quantizedActivationDotMatchesDefinition(_ type: TensorType) {
        var rng = SplitMix64(seed: 11)
        let n = 256, blocks = n / 32
        for _ in 0..<20 {
            let row = randomRow(type, blocks: blocks, &rng)
            let x = randomVector(n, &rng)
            var expected = 0.0
            for b in 0..<blocks {
                let w = weights(type, row, block: b), a = quantize(x, block: b)
                let integer = zip(w.q, a.q).map { $0 * $1 }.reduce(0, +)
                expected += w.d * a.d * Double(integer) + w.m * a.s
            }
            let got = row.withUnsafeBytes { raw in
                let kernel = RowKernel(data: raw.baseAddress!, rowBytes: row.count, columns: n, format: RowKernel.Format(type))
                var quantized = QuantizedActivations(columns: n, isEnabled: true)
                x.withUnsafeBufferPointer { quantized.prepare($0.baseAddress!, count: 1, layout: kernel.activationLayout!) }
                return quantized.values.withUnsafeBufferPointer { q in
                    quantized.scales.withUnsafeBufferPointer { d in
                        quantized.sums.withUnsafeBufferPointer { s in
                            kernel.dot(row: 0, q.baseAddress!, d.baseAddress!, s.baseAddress!, masks: Kernels.NibbleMasks(runtimeZero: 0))
                        }
                    }
                }
            }
            #expect(abs(Double(got) - expected) <= 1e-5 * max(1, abs(expected)), "\(type.name): \(got) vs \(expected)")
        }
    }

    /// The four-vector kernel used for prefill gives exactly the bits of
    /// four single-vector calls (batch invariance rests on it).
    @Test(arguments: formats)
    func fourVectorDotIsBitIdenticalToSingleDots(_ type: TensorType) {
        var rng = SplitMix64(seed: 17)
        let n = 576, blocks = n / 32
        let row = randomRow(type, blocks: blocks, &rng)
        let x = (0..<4).flatMap { _ in randomVector(n, &rng) }
        row.withUnsafeBytes { raw in
            let kernel = RowKernel(data: raw.baseAddress!, rowBytes: row.count, columns: n, format: RowKernel.Format(type))
            var quantized = QuantizedActivations(columns: n, isEnabled: true)
            x.withUnsafeBufferPointer { quantized.prepare($0.baseAddress!, count: 4, layout: kernel.activationLayout!) }
            let masks = Kernels.NibbleMasks(runtimeZero: 0)
            quantized.values.withUnsafeBufferPointer { q in
                quantized.scales.withUnsafeBufferPointer { d in
                    quantized.sums.withUnsafeBufferPointer { s in
                        let four = kernel.dot4(row: 0, q.baseAddress!, d.baseAddress!, s.baseAddress!, masks: masks)
                        for k in 0..<4 {
                            let one = kernel.dot(row: 0, q.baseAddress! + k * n, d.baseAddress! + k * blocks,
                                                 s.baseAddress! + k * blocks, masks: masks)
                            #expect(four[k].bitPattern == one.bitPattern, "\(type.name) vector \(k): \(four[k]) vs \(one)")
                        }
                    }
                }
            }
        }
    }

    /// The eight-vector kernel of batched steps, on the second group of
    /// nineteen vectors (grouped layout), gives exactly the bits of
    /// single-vector calls on the plain layout.
    @Test(arguments: formats)
    func eightVectorDotIsBitIdenticalToSingleDots(_ type: TensorType) {
        var rng = SplitMix64(seed: 23)
        let n = 576, blocks = n / 32, count = 19, group = 1
        let row = randomRow(type, blocks: blocks, &rng)
        let x = (0..<count).flatMap { _ in randomVector(n, &rng) }
        row.withUnsafeBytes { raw in
            let kernel = RowKernel(data: raw.baseAddress!, rowBytes: row.count, columns: n, format: RowKernel.Format(type))
            var quantized = QuantizedActivations(columns: n, isEnabled: true)
            x.withUnsafeBufferPointer { quantized.prepare($0.baseAddress!, count: count, layout: kernel.activationLayout!) }
            let masks = Kernels.NibbleMasks(runtimeZero: 0)
            quantized.values.withUnsafeBufferPointer { qv in
            quantized.scales.withUnsafeBufferPointer { dv in
            quantized.sums.withUnsafeBufferPointer { sv in
            quantized.groupedValues.withUnsafeBufferPointer { gv in
            quantized.groupedScales.withUnsafeBufferPointer { gd in
            quantized.groupedSums.withUnsafeBufferPointer { gs in
                let q = qv.baseAddress!, d = dv.baseAddress!, s = sv.baseAddress!
                let first = 8 * group
                let eight = kernel.dot8(row: 0, gv.baseAddress! + first * n, gd.baseAddress! + first * blocks,
                                        gs.baseAddress! + first * blocks, masks: masks)
                for k in 0..<8 {
                    let one = kernel.dot(row: 0, q + (first + k) * n, d + (first + k) * blocks, s + (first + k) * blocks, masks: masks)
                    #expect(eight[k].bitPattern == one.bitPattern, "\(type.name) vector \(k): \(eight[k]) vs \(one)")
                }
            }}}}}}
        }
    }

    @Test(arguments: formats + [.f16, .f32])
    func floatActivationDotMatchesDequantizedWeights(_ type: TensorType) {
        var rng = SplitMix64(seed: 5)
        let n = 256
        let row: [UInt8]
        if type.id == TensorType.f16.id {
            row = (0..<n).flatMap { _ in
                let v = Float16(Float(Int(rng.next() % 2001) - 1000) / 500)
                return [UInt8(v.bitPattern & 0xFF), UInt8(v.bitPattern >> 8)]
            }
        } else if type.id == TensorType.f32.id {
            row = (0..<n).flatMap { _ in
                let bits = Float(Int(rng.next() % 2001) - 1000).bitPattern
                return (0..<4).map { UInt8((bits >> (8 * $0)) & 0xFF) }
            }
        } else {
            row = randomRow(type, blocks: n / 32, &rng)
        }
        let x = randomVector(n, &rng)
        var dequantized = [Float](repeating: 0, count: n)
        row.withUnsafeBytes { raw in
            dequantized.withUnsafeMutableBufferPointer { Dequantize.values(type, from: raw.baseAddress!, count: n, into: $0.baseAddress!) }
        }
        let expected = zip(dequantized, x).map { Double($0) * Double($1) }.reduce(0, +)
        let magnitude = zip(dequantized, x).map { abs(Double($0) * Double($1)) }.reduce(0, +)
        let got = row.withUnsafeBytes { raw in
            x.withUnsafeBufferPointer {
                RowKernel(data: raw.baseAddress!, rowBytes: row.count, columns: n, format: RowKernel.Format(type)).dot(row: 0, $0.baseAddress!)
            }
        }
        #expect(abs(Double(got) - expected) <= 1e-6 * max(1, magnitude), "\(type.name): \(got) vs \(expected)")
    }

    @Test func vectorExponentialMatchesLibm() {
        var worst = 0.0
        var x: Float = -87
        while x <= 88 {
            var lanes = Kernels.V8()
            for i in 0..<8 { lanes[i] = x + Float(i) * 0.0137 }
            let e = Kernels.exp(lanes)
            for i in 0..<8 where lanes[i] <= 88 {
                let exact = Foundation.exp(Double(lanes[i]))
                worst = max(worst, abs(Double(e[i]) - exact) / exact)
            }
            x += 0.0931
        }
        #expect(worst < 5e-7, "worst relative error \(worst)")
        // Far below the range the result is negligible, never NaN or negative.
        let tiny = Kernels.exp(Kernels.V8(repeating: -1000))
        #expect(tiny[0] >= 0 && tiny[0] < 1e-37)
    }

    /// Paged attention against softmax(q·k / sqrt(d)) v computed in Double
    /// over the same stored (rounded) keys and values, across many chunks,
    /// blocks in scattered order, and grouped query heads.
    @Test(arguments: KVElementType.allCases)
    func pagedAttentionMatchesDirectSoftmax(_ type: KVElementType) {
        let heads = 6, kvHeads = 2, hd = 16, blockSize = 16, layer = 1
        let attention = PagedAttention(heads: heads, kvHeads: kvHeads, headDimension: hd)
        var rng = SplitMix64(seed: 3)
        func random() -> Float { Float(Int(rng.next() % 2001) - 1000) / 400 }
        let length = 203  // four chunks, the last partial; 13 blocks
        let table: [Int32] = (0..<13).map { Int32((7 * $0 + 3) % 13) }
        let arena = KVArena(layers: 2, kvHeads: kvHeads, headDimension: hd, elementType: type, blockSize: blockSize, blockCount: 13)
        var keys = [[[Float]]](), values = [[[Float]]]()  // [position][kvHead][dimension], as stored
        for p in 0..<length {
            var ks = [[Float]](), vs = [[Float]]()
            for g in 0..<kvHeads {
                let k = (0..<hd).map { _ in random() }, v = (0..<hd).map { _ in random() }
                k.withUnsafeBufferPointer { arena.store($0.baseAddress!, block: table[p / blockSize], slot: p % blockSize, layer: layer, value: false, head: g) }
                v.withUnsafeBufferPointer { arena.store($0.baseAddress!, block: table[p / blockSize], slot: p % blockSize, layer: layer, value: true, head: g) }
                let round: (Float) -> Float = { type == .f16 ? Float(Float16($0)) : $0 }
                ks.append(k.map(round)); vs.append(v.map(round))
            }
            keys.append(ks); values.append(vs)
        }
        // Three tokens of the sequence at different positions, one step.
        let positions = [0, 64, length - 1]
        let queries = (0..<(positions.count * heads * hd)).map { _ in random() }
        var output = [Float](repeating: .nan, count: queries.count)
        let step = attention.step(positions: positions, tableStart: [0, 0, 0], tables: table)
        queries.withUnsafeBufferPointer { q in
            output.withUnsafeMutableBufferPointer { o in
                attention.run(queries: q.baseAddress!, step: step, layer: layer, cache: arena, output: o.baseAddress!, pool: WorkerPool(threadCount: 2))
            }
        }
        for (t, position) in positions.enumerated() {
            for head in 0..<heads {
                let g = head / (heads / kvHeads)
                let q = (0..<hd).map { Double(queries[(t * heads + head) * hd + $0]) }
                let scores = (0...position).map { p in zip(q, keys[p][g]).map { $0 * Double($1) }.reduce(0, +) / Double(hd).squareRoot() }
                let m = scores.max()!
                let weights = scores.map { Foundation.exp($0 - m) }
                let total = weights.reduce(0, +)
                for i in 0..<hd {
                    let expected = (0...position).map { weights[$0] * Double(values[$0][g][i]) }.reduce(0, +) / total
                    let got = Double(output[(t * heads + head) * hd + i])
                    #expect(abs(got - expected) < 2e-5, "token \(t) head \(head) dim \(i): \(got) vs \(expected)")
                }
            }
        }
    }
}
