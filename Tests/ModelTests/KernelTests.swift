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

    /// `rows` random file-layout rows of `type`, repacked as panels, times
    /// `count` vectors through `PanelKernel`, in tiles as the forward pass
    /// runs them (`count` tokens at once) or one token at a time.
    func panelProducts(_ type: TensorType, _ rowBytes: [[UInt8]], _ x: [Float], columns n: Int, count: Int,
                       oneAtATime: Bool = false) -> [Float] {
        let format = PanelFormat(type)!, rows = rowBytes.count
        let file = rowBytes.flatMap { $0 }
        let panels = UnsafeMutableRawPointer.allocate(byteCount: format.byteCount(rows: rows, columns: n), alignment: 64)
        defer { panels.deallocate() }
        file.withUnsafeBytes { format.repack($0.baseAddress!, rows: rows, columns: n, into: panels) }
        let kernel = PanelKernel(data: panels, format: format, rows: rows, columns: n)
        var y = [Float](repeating: .nan, count: count * rows)
        var quantized = Int8Activations(columns: n)
        x.withUnsafeBufferPointer { quantized.prepare($0.baseAddress!, count: count) }
        quantized.withPointers { q in
            y.withUnsafeMutableBufferPointer { out in
                if oneAtATime {
                    for t in 0..<count {
                        let one = PanelKernel.Activations(values: q.values + t * n, scales: q.scales + t * n / 32,
                                                          sums: q.sums + t * n / 32, integerSums: q.integerSums + t * n / 32, columns: n)
                        kernel.multiply(panels: 0..<kernel.panelCount, one, count: 1, into: out.baseAddress! + t * rows, stride: rows)
                    }
                } else {
                    kernel.multiply(panels: 0..<kernel.panelCount, q, count: count, into: out.baseAddress!, stride: rows)
                }
            }
        }
        return y
    }

    /// Every (row, token) product against d_w d_x sum(q_w q_x) + m_w s per
    /// block in Double, over two panels, the second one partial.
    @Test(arguments: formats)
    func panelProductsMatchDefinition(_ type: TensorType) {
        var rng = SplitMix64(seed: 11)
        let n = 256, blocks = n / 32, rows = 11, count = 6
        let rowBytes = (0..<rows).map { _ in randomRow(type, blocks: blocks, &rng) }
        let x = (0..<count).flatMap { _ in randomVector(n, &rng) }
        let y = panelProducts(type, rowBytes, x, columns: n, count: count)
        for t in 0..<count {
            let xt = Array(x[(t * n)..<((t + 1) * n)])
            for r in 0..<rows {
                var expected = 0.0, magnitude = 0.0
                for b in 0..<blocks {
                    let w = weights(type, rowBytes[r], block: b), a = quantize(xt, block: b)
                    let integer = zip(w.q, a.q).map { $0 * $1 }.reduce(0, +)
                    expected += w.d * a.d * Double(integer) + w.m * a.s
                    magnitude += abs(w.d * a.d * Double(integer)) + abs(w.m * a.s)
                }
                // Float sums of `blocks` terms: a few ulps of their magnitudes.
                let got = Double(y[t * rows + r])
                #expect(abs(got - expected) <= 1e-6 * max(1, magnitude), "\(type.name) row \(r) token \(t): \(got) vs \(expected)")
            }
        }
    }

    /// The largest weights against the largest activations: the 16-bit
    /// partial sums of the 4-bit formats and the pairs of Q8_0 (whose -128
    /// has magnitude 128) stay exact.
    @Test(arguments: formats)
    func extremeValuesDoNotSaturate(_ type: TensorType) {
        let n = 64, blockBytes = type.rowBytes(32)
        var row = [UInt8](repeating: 0, count: 2 * blockBytes)
        let one = Float16(1).bitPattern
        for b in 0..<2 {
            row[b * blockBytes] = UInt8(one & 0xFF); row[b * blockBytes + 1] = UInt8(one >> 8)
            let first = type.id == TensorType.q4_1.id ? 4 : 2
            for j in first..<blockBytes { row[b * blockBytes + j] = type.id == TensorType.q8_0.id ? 0x80 : 0xFF }
        }
        // All +1 and all -1: q_x = +-127 everywhere.
        let x = [Float](repeating: 1, count: 32) + [Float](repeating: -1, count: 32)
        let q: Double = type.id == TensorType.q8_0.id ? -128 : type.id == TensorType.q4_0.id ? 7 : 15
        let d = Double(Float(Float16(Float(1) / 127)))
        let expected = q * 127 * 32 * d - q * 127 * 32 * d
        let perBlock = q * 127 * 32 * d
        let y = panelProducts(type, [row], x, columns: n, count: 1)
        // Each block alone: the second block's activations negated.
        #expect(abs(Double(y[0]) - expected) <= 1e-3, "\(type.name): \(y[0]) vs \(expected)")
        let firstOnly = panelProducts(type, [Array(row[0..<blockBytes])], Array(x[0..<32]), columns: 32, count: 1)
        #expect(abs(Double(firstOnly[0]) - perBlock) <= 1e-6 * abs(perBlock), "\(type.name): \(firstOnly[0]) vs \(perBlock)")
    }

    /// Tiles of four tokens and the single-token remainder give exactly the
    /// bits of one-token calls (batch invariance rests on it).
    @Test(arguments: formats)
    func tilesAreBitIdenticalToSingleTokens(_ type: TensorType) {
        var rng = SplitMix64(seed: 17)
        let n = 576, rows = 20, count = 11
        let rowBytes = (0..<rows).map { _ in randomRow(type, blocks: n / 32, &rng) }
        let x = (0..<count).flatMap { _ in randomVector(n, &rng) }
        let batched = panelProducts(type, rowBytes, x, columns: n, count: count)
        let single = panelProducts(type, rowBytes, x, columns: n, count: count, oneAtATime: true)
        for i in batched.indices {
            #expect(batched[i].bitPattern == single[i].bitPattern, "\(type.name) output \(i): \(batched[i]) vs \(single[i])")
        }
    }

    /// A row read back from panels is the file row's dequantization, bit for bit.
    @Test(arguments: formats)
    func panelRowsDequantizeLikeFileRows(_ type: TensorType) {
        var rng = SplitMix64(seed: 29)
        let n = 96
        Self.expectPanelRowsDequantizeLikeFileRows(type, (0..<13).map { _ in randomRow(type, blocks: n / 32, &rng) }, columns: n)
    }

    /// Rows `rowBytes` (the file's layout) repacked as panels read back as
    /// the file rows dequantize, bit for bit.
    static func expectPanelRowsDequantizeLikeFileRows(_ type: TensorType, _ rowBytes: [[UInt8]], columns n: Int) {
        let rows = rowBytes.count
        let format = PanelFormat(type)!
        let panels = UnsafeMutableRawPointer.allocate(byteCount: format.byteCount(rows: rows, columns: n), alignment: 64)
        defer { panels.deallocate() }
        rowBytes.flatMap { $0 }.withUnsafeBytes { format.repack($0.baseAddress!, rows: rows, columns: n, into: panels) }
        for r in 0..<rows {
            var fromPanels = [Float](repeating: .nan, count: n), fromFile = fromPanels
            fromPanels.withUnsafeMutableBufferPointer { format.dequantizeRow(r, of: panels, columns: n, into: $0.baseAddress!) }
            rowBytes[r].withUnsafeBytes { raw in
                fromFile.withUnsafeMutableBufferPointer { Dequantize.values(type, from: raw.baseAddress!, count: n, into: $0.baseAddress!) }
            }
            #expect(fromPanels.map(\.bitPattern) == fromFile.map(\.bitPattern), "\(type.name) row \(r)")
        }
    }

    @Test(arguments: formats + [.f16, .bf16, .f32])
    func floatActivationDotMatchesDequantizedWeights(_ type: TensorType) {
        var rng = SplitMix64(seed: 5)
        let n = 256
        let row: [UInt8]
        if type.id == TensorType.f16.id {
            row = (0..<n).flatMap { _ in
                let v = Float16(Float(Int(rng.next() % 2001) - 1000) / 500)
                return [UInt8(v.bitPattern & 0xFF), UInt8(v.bitPattern >> 8)]
            }
        } else if type.id == TensorType.bf16.id {
            // Finite bfloat16 bit patterns of either sign, exponents 2^-20...2^11.
            row = (0..<n).flatMap { _ in
                let bits = UInt16(rng.next() % 2) << 15 | UInt16(107 + rng.next() % 32) << 7 | UInt16(rng.next() % 128)
                return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
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

    /// Random keys and values for positions 0..<length of the sequence whose
    /// block table is `table`, stored in `arena`; returned as stored (rounded
    /// to the arena's element type; q8_0 by `Q8KVCacheTests.dequantized`, an
    /// implementation of its own), [position][kvHead][dimension].
    func storeRandomKeysAndValues(_ arena: KVArena, table: [Int32], length: Int, layer: Int,
                                  _ random: () -> Float) -> (keys: [[[Float]]], values: [[[Float]]]) {
        let round: ([Float]) -> [Float] = {
            switch arena.elementType {
            case .f16: $0.map { Float(Float16($0)) }
            case .f32: $0
            case .q8_0: Q8KVCacheTests.dequantized($0)
            }
        }
        var keys = [[[Float]]](), values = [[[Float]]]()
        for p in 0..<length {
            var ks = [[Float]](), vs = [[Float]]()
            for g in 0..<arena.kvHeads {
                let k = (0..<arena.headDimension).map { _ in random() }, v = (0..<arena.headDimension).map { _ in random() }
                let block = table[p / arena.blockSize], slot = p % arena.blockSize
                k.withUnsafeBufferPointer { arena.store($0.baseAddress!, block: block, slot: slot, layer: layer, value: false, head: g) }
                v.withUnsafeBufferPointer { arena.store($0.baseAddress!, block: block, slot: slot, layer: layer, value: true, head: g) }
                ks.append(round(k)); vs.append(round(v))
            }
            keys.append(ks); values.append(vs)
        }
        return (keys, values)
    }

    /// Paged attention against softmax(q·k / sqrt(d)) v computed in Double
    /// over the same stored (rounded) keys and values, across many chunks,
    /// blocks in scattered order, and grouped query heads; with a sliding
    /// window, over the last `window` positions only (70: the window starts
    /// inside a chunk; 5: it straddles a chunk boundary at position 64).
    /// q8_0 heads have 64 dimensions: two groups with scales of their own.
    @Test(arguments: KVElementType.allCases, [nil, 70, 5] as [Int?])
    func pagedAttentionMatchesDirectSoftmax(_ type: KVElementType, window: Int?) {
        let heads = 6, kvHeads = 2, hd = type == .q8_0 ? 64 : 16, blockSize = 16, layer = 1
        let attention = PagedAttention(heads: heads, kvHeads: kvHeads, headDimension: hd)
        var rng = SplitMix64(seed: 3)
        // q8_0: scaled per 16 dimensions, so that its groups differ in scale.
        var drawn = 0
        func random() -> Float {
            drawn += 1
            return Float(Int(rng.next() % 2001) - 1000) / Float(400 << (type == .q8_0 ? drawn / 16 % 3 : 0))
        }
        let length = 203  // four chunks, the last partial; 13 blocks
        let table: [Int32] = (0..<13).map { Int32((7 * $0 + 3) % 13) }
        let arena = KVArena(layers: 2, kvHeads: kvHeads, headDimension: hd, elementType: type, blockSize: blockSize, blockCount: 13)
        let (keys, values) = storeRandomKeysAndValues(arena, table: table, length: length, layer: layer, random)
        // Three tokens of the sequence at different positions, one step.
        let positions = [0, 64, length - 1]
        let queries = (0..<(positions.count * heads * hd)).map { _ in random() }
        var output = [Float](repeating: .nan, count: queries.count)
        let step = attention.step(positions: positions, tableStart: [0, 0, 0], tables: table, window: window)
        queries.withUnsafeBufferPointer { q in
            output.withUnsafeMutableBufferPointer { o in
                attention.run(queries: q.baseAddress!, step: step, layer: layer, cache: arena, output: o.baseAddress!, pool: WorkerPool(threadCount: 2))
            }
        }
        for (t, position) in positions.enumerated() {
            for head in 0..<heads {
                let g = head / (heads / kvHeads)
                let q = (0..<hd).map { Double(queries[(t * heads + head) * hd + $0]) }
                let visible = Array(max(0, position - (window ?? length) + 1)...position)
                let scores = visible.map { p in zip(q, keys[p][g]).map { $0 * Double($1) }.reduce(0, +) / Double(hd).squareRoot() }
                let m = scores.max()!
                let weights = scores.map { Foundation.exp($0 - m) }
                let total = weights.reduce(0, +)
                for i in 0..<hd {
                    let expected = visible.indices.map { weights[$0] * Double(values[visible[$0]][g][i]) }.reduce(0, +) / total
                    let got = Double(output[(t * heads + head) * hd + i])
                    #expect(abs(got - expected) < 2e-5, "token \(t) head \(head) dim \(i): \(got) vs \(expected)")
                }
            }
        }
    }

    /// A prompt's attention, tokens in tiles over whole chunks, gives exactly
    /// the bits of attending one token at a time: two sequences of 150 and
    /// 203 consecutive positions in one step (tiles never cross sequences or
    /// chunk boundaries), against 353 one-token steps; also with sliding
    /// windows whose edges fall inside tiles' chunks.
    @Test(arguments: KVElementType.allCases, [nil, 70, 130] as [Int?])
    func tiledPrefillAttentionIsBitIdenticalToOneTokenSteps(_ type: KVElementType, window: Int?) {
        let heads = 9, kvHeads = 3, hd = type == .q8_0 ? 64 : 16, blockSize = 16, layer = 0
        let attention = PagedAttention(heads: heads, kvHeads: kvHeads, headDimension: hd)
        var rng = SplitMix64(seed: 41)
        func random() -> Float { Float(Int(rng.next() % 2001) - 1000) / 300 }
        let lengths = [150, 203]
        let tables: [[Int32]] = [(0..<10).map { Int32(2 * $0) }, (0..<13).map { Int32(2 * $0 + 1) }]
        let arena = KVArena(layers: 1, kvHeads: kvHeads, headDimension: hd, elementType: type, blockSize: blockSize, blockCount: 26)
        for (s, length) in lengths.enumerated() {
            _ = storeRandomKeysAndValues(arena, table: tables[s], length: length, layer: layer, random)
        }
        let flatTables = tables[0] + tables[1]
        var positions: [Int] = [], starts: [Int] = []
        for (s, length) in lengths.enumerated() {
            positions += Array(0..<length)
            starts += Array(repeating: s == 0 ? 0 : tables[0].count, count: length)
        }
        let width = heads * hd
        let queries = (0..<(positions.count * width)).map { _ in random() }
        let pool = WorkerPool(threadCount: 2)
        var together = [Float](repeating: .nan, count: queries.count)
        queries.withUnsafeBufferPointer { q in
            together.withUnsafeMutableBufferPointer { o in
                attention.run(queries: q.baseAddress!, step: attention.step(positions: positions, tableStart: starts, tables: flatTables, window: window),
                              layer: layer, cache: arena, output: o.baseAddress!, pool: pool)
            }
        }
        var mismatches = 0
        for t in positions.indices {
            var alone = [Float](repeating: .nan, count: width)
            queries.withUnsafeBufferPointer { q in
                alone.withUnsafeMutableBufferPointer { o in
                    attention.run(queries: q.baseAddress! + t * width,
                                  step: attention.step(positions: [positions[t]], tableStart: [starts[t]], tables: flatTables, window: window),
                                  layer: layer, cache: arena, output: o.baseAddress!, pool: pool)
                }
            }
            for i in 0..<width where alone[i].bitPattern != together[t * width + i].bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0, "\(mismatches) outputs differ")
    }
}
