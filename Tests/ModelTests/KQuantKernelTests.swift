import Foundation
import Testing
@testable import Model

/// The 5-bit and K-quant kernels against scalar arithmetic in Double from
/// the block formats' definitions (ggml's layouts, decoded here column by
/// column, independently of the kernels' readers).
extension KernelTests {
    static let packedFormats: [TensorType] = [.q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// Byte offsets of a block's f16 fields.
    func halfOffsets(_ type: TensorType) -> [Int] {
        switch type.id {
        case TensorType.q5_0.id: return [0]
        case TensorType.q6_K.id: return [208]
        case TensorType.q2_K.id: return [80, 82]
        case TensorType.q3_K.id: return [108]
        default: return [0, 2]
        }
    }

    func setHalf(_ bytes: inout [UInt8], _ offset: Int, _ value: Float16) {
        bytes[offset] = UInt8(value.bitPattern & 0xFF)
        bytes[offset + 1] = UInt8(value.bitPattern >> 8)
    }

    /// A random row of `columns` values (random bytes are valid blocks)
    /// with f16 fields of a few hundredths, either sign.
    func randomPackedRow(_ type: TensorType, columns: Int, _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = (0..<type.rowBytes(columns)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for b in 0..<(columns / type.blockLength) {
            for offset in halfOffsets(type) {
                setHalf(&bytes, b * type.blockBytes + offset, Float16(Float(Int(rng.next() % 2001) - 1000) / 40_000))
            }
        }
        return bytes
    }

    /// Column c's value of a 5-bit or K-quant row as w * scale + offset,
    /// w an integer, and whether the offset is a minimum (the activations'
    /// sum multiplies it).
    func packedWeight(_ type: TensorType, _ row: [UInt8], column c: Int) -> (w: Int, scale: Double, minimum: Double) {
        let block = c / type.blockLength * type.blockBytes, j = c % type.blockLength
        func byte(_ i: Int) -> Int { Int(row[block + i]) }
        func bit(_ value: Int, _ k: Int) -> Int { (value >> k) & 1 }
        switch type.id {
        case TensorType.q5_0.id, TensorType.q5_1.id:
            let first = type.id == TensorType.q5_0.id ? 2 : 4
            let highBits = byte(first) | byte(first + 1) << 8 | byte(first + 2) << 16 | byte(first + 3) << 24
            let nibble = j < 16 ? byte(first + 4 + j) & 15 : byte(first + 4 + j - 16) >> 4
            let q = nibble + 16 * bit(highBits, j)
            return type.id == TensorType.q5_0.id ? (q - 16, half(row, block), 0) : (q, half(row, block), half(row, block + 2))
        case TensorType.q6_K.id:
            let halfBase = j / 128 * 64, within = j % 128
            let nibble = within < 64 ? byte(halfBase + within) & 15 : byte(halfBase + within - 64) >> 4
            let top = (byte(128 + j / 128 * 32 + within % 32) >> (2 * (within / 32))) & 3
            let scale = Double(Int8(bitPattern: row[block + 192 + j / 16]))
            return (nibble + 16 * top - 32, half(row, block + 208) * scale, 0)
        case TensorType.q2_K.id, TensorType.q3_K.id:
            // 2-bit parts: byte 32 (j / 128) + j % 32 of qs, bits 2 ((j % 128) / 32).
            let qs = type.id == TensorType.q2_K.id ? 16 : 32
            let low = (byte(qs + 32 * (j / 128) + j % 32) >> (2 * ((j % 128) / 32))) & 3
            let sub = j / 16
            if type.id == TensorType.q2_K.id {
                return (low, half(row, block + 80) * Double(byte(sub) & 15), half(row, block + 82) * Double(byte(sub) >> 4))
            }
            // Q3_K: a clear hmask bit (bit j / 32 of byte j % 32) means 4 is taken off.
            let q = low - 4 * (1 - bit(byte(j % 32), j / 32))
            let lowScale = sub < 8 ? byte(96 + sub) & 15 : byte(96 + sub - 8) >> 4
            let sc = lowScale + 16 * ((byte(104 + sub % 4) >> (2 * (sub / 4))) & 3) - 32
            return (q, half(row, block + 108) * Double(sc), 0)
        default:
            let sub = j / 32, l = j % 32, hasFifth = type.id == TensorType.q5_K.id
            let scales = (0..<12).map { byte(4 + $0) }
            let sc = sub < 4 ? scales[sub] & 63 : (scales[sub + 4] & 15) + 16 * (scales[sub - 4] >> 6)
            let m = sub < 4 ? scales[sub + 4] & 63 : (scales[sub + 4] >> 4) + 16 * (scales[sub] >> 6)
            let qs = hasFifth ? 48 : 16
            let nibble = sub % 2 == 0 ? byte(qs + 32 * (sub / 2) + l) & 15 : byte(qs + 32 * (sub / 2) + l) >> 4
            let q = nibble + (hasFifth ? 16 * bit(byte(16 + l), sub) : 0)
            return (q, half(row, block) * Double(sc), half(row, block + 2) * Double(m))
        }
    }

    /// The block formula with llama.cpp's 8-bit activations: per block of
    /// 32, d_x sum(w scale q_x), plus m s_x (Q5_1) or less dmin m d_x
    /// sum(q_x) (K-quants); and the sum of the terms' magnitudes.
    func packedReference(_ type: TensorType, _ row: [UInt8], _ x: [Float]) -> (value: Double, magnitude: Double) {
        var value = 0.0, magnitude = 0.0
        for b in 0..<(x.count / 32) {
            let a = quantize(x, block: b)
            var product = 0.0, minimum = 0.0, minimumDot = 0.0
            for i in 0..<32 {
                let w = packedWeight(type, row, column: 32 * b + i)
                product += Double(w.w) * w.scale * Double(a.q[i])
                minimum = w.minimum
                minimumDot += w.minimum * Double(a.q[i])
            }
            let offset = type.id == TensorType.q5_1.id ? minimum * a.s
                : type.blockLength == 256 ? -a.d * minimumDot : 0
            value += a.d * product + offset
            magnitude += abs(a.d * product) + abs(offset)
        }
        return (value, magnitude)
    }

    func expectMatchesReference(_ type: TensorType, _ rows: [[UInt8]], _ x: [Float], columns n: Int, _ y: [Float],
                                tolerance: Double = 1e-5, _ what: String = "") {
        let count = x.count / n
        var worst = 0.0, worstAt = ""
        for t in 0..<count {
            let xt = Array(x[(t * n)..<((t + 1) * n)])
            for r in rows.indices {
                let reference = packedReference(type, rows[r], xt)
                let error = abs(Double(y[t * rows.count + r]) - reference.value) / max(1, reference.magnitude)
                if !(error <= worst) { worst = error; worstAt = "row \(r) token \(t): \(y[t * rows.count + r]) vs \(reference.value)" }
            }
        }
        #expect(worst <= tolerance, "\(type.name)\(what): worst relative error \(worst) at \(worstAt)")
    }

    /// Every (row, token) against the formula, over two panels (the second
    /// partial) and two super-blocks.
    @Test(arguments: packedFormats)
    func packedPanelProductsMatchDefinition(_ type: TensorType) {
        var rng = SplitMix64(seed: 13)
        let n = 512, rows = 11, count = 6
        let rowBytes = (0..<rows).map { _ in randomPackedRow(type, columns: n, &rng) }
        let x = (0..<count).flatMap { _ in randomVector(n, &rng) }
        expectMatchesReference(type, rowBytes, x, columns: n, panelProducts(type, rowBytes, x, columns: n, count: count))
    }

    /// All value bits set (5-bit 31, Q6_K 63 - 32 = 31, 6-bit scales and
    /// minimums 63, Q6_K scales 127 and -128, Q2_K's 3 with scales and
    /// minimums 15) and all clear (Q6_K's -32, Q3_K's -4 with scale -32),
    /// against activations all +-127: the 16-bit sums at their largest.
    @Test(arguments: packedFormats)
    func packedExtremesDoNotSaturate(_ type: TensorType) {
        let n = 512
        func extreme(_ fill: UInt8, d: Float16) -> [UInt8] {
            var row = [UInt8](repeating: fill, count: type.rowBytes(n))
            for b in 0..<(n / type.blockLength) {
                for offset in halfOffsets(type) { setHalf(&row, b * type.blockBytes + offset, d) }
                if type.id == TensorType.q6_K.id {
                    for s in 0..<16 { row[b * type.blockBytes + 192 + s] = s % 2 == 0 ? 0x7F : 0x80 }
                } else if type.id == TensorType.q4_K.id || type.id == TensorType.q5_K.id {
                    for s in 4..<16 { row[b * type.blockBytes + s] = 0xFF }
                }
            }
            return row
        }
        let rows = [extreme(0xFF, d: 1), extreme(0x00, d: 1), extreme(0xFF, d: -0.5)]
        // Blocks alternately all +1 and all -1: q_x = +-127 throughout.
        let x = (0..<n).map { i -> Float in (i / 32) % 2 == 0 ? 1 : -1 }
        let y = panelProducts(type, rows, x, columns: n, count: 1)
        expectMatchesReference(type, rows, x, columns: n, y, tolerance: 1e-6)
    }

    /// Tiles of four and the one-token remainder give exactly the bits of
    /// one-token calls, and a token's result does not depend on where in a
    /// batch it falls.
    @Test(arguments: packedFormats)
    func packedTilesAreBitIdenticalToSingleTokens(_ type: TensorType) {
        var rng = SplitMix64(seed: 19)
        let n = 768, rows = 20, count = 11, shift = 3
        let rowBytes = (0..<rows).map { _ in randomPackedRow(type, columns: n, &rng) }
        let x = (0..<count).flatMap { _ in randomVector(n, &rng) }
        let batched = panelProducts(type, rowBytes, x, columns: n, count: count)
        let single = panelProducts(type, rowBytes, x, columns: n, count: count, oneAtATime: true)
        let later = panelProducts(type, rowBytes, Array(x[(shift * n)...]), columns: n, count: count - shift)
        var mismatches = 0
        for i in batched.indices where batched[i].bitPattern != single[i].bitPattern { mismatches += 1 }
        for i in later.indices where later[i].bitPattern != batched[i + shift * rows].bitPattern { mismatches += 1 }
        #expect(mismatches == 0, "\(type.name): \(mismatches) outputs differ")
    }

    @Test(arguments: packedFormats)
    func packedPanelRowsDequantizeLikeFileRows(_ type: TensorType) {
        var rng = SplitMix64(seed: 31)
        let n = 512
        KernelTests.expectPanelRowsDequantizeLikeFileRows(type, (0..<13).map { _ in randomPackedRow(type, columns: n, &rng) }, columns: n)
    }

    /// The float kernel against the weights written out from the formula.
    @Test(arguments: packedFormats)
    func packedFloatDotMatchesDefinition(_ type: TensorType) {
        var rng = SplitMix64(seed: 7)
        let n = 512
        for _ in 0..<4 {
            let row = randomPackedRow(type, columns: n, &rng), x = randomVector(n, &rng)
            let got = floatDot(type, row, x)
            var expected = 0.0, magnitude = 0.0
            for c in 0..<n {
                let w = packedWeight(type, row, column: c)
                // Q5_1's m is added; the K-quants' dmin m subtracted.
                let offset = type.id == TensorType.q5_1.id ? w.minimum : -w.minimum
                let term = (Double(w.w) * w.scale + offset) * Double(x[c])
                expected += term
                magnitude += abs(term)
            }
            #expect(abs(Double(got) - expected) <= 1e-6 * max(1, magnitude), "\(type.name): \(got) vs \(expected)")
        }
    }

    func floatDot(_ type: TensorType, _ row: [UInt8], _ x: [Float]) -> Float {
        row.withUnsafeBytes { raw in
            x.withUnsafeBufferPointer {
                RowKernel(data: raw.baseAddress!, rowBytes: row.count, columns: x.count, format: RowKernel.Format(type)).dot(row: 0, $0.baseAddress!)
            }
        }
    }

    /// Matrices of gemma-3-270m Q4_K_M built as WeightMatrix from the file:
    /// both precisions against the formula, and batch invariance.
    @Test(.enabled(if: TestResources.gemmaPresent, TestResources.gemmaMissingNote),
          arguments: ["blk.0.attn_q.weight", "blk.0.attn_output.weight", "blk.0.ffn_down.weight", "blk.2.ffn_down.weight"])
    func gemmaMatricesMultiplyInBothPrecisions(_ name: String) throws {
        let tensor = try TestResources.gemma.get().requireTensor(name)
        let matrix = try WeightMatrix(tensor)
        let n = matrix.columns, type = matrix.type, count = 5
        let rows = (0..<matrix.rows).map { r in Array(UnsafeRawBufferPointer(rebasing: tensor.data[(r * matrix.rowBytes)..<((r + 1) * matrix.rowBytes)])) }
        var rng = SplitMix64(seed: 3)
        let x = (0..<count).flatMap { _ in randomVector(n, &rng) }
        let batched = panelProducts(type, rows, x, columns: n, count: count)
        expectMatchesReference(type, rows, x, columns: n, batched, " \(name)")
        let single = panelProducts(type, rows, x, columns: n, count: count, oneAtATime: true)
        #expect(zip(batched, single).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(name): batched and single differ")
        // Float activations: the file rows through WeightMatrix's kernel.
        let kernel = matrix.rowsKernel
        var worst = 0.0
        for r in stride(from: 0, to: matrix.rows, by: 7) {
            let weights = try tensor.dequantizedRow(r)
            let xt = Array(x[0..<n])
            let expected = zip(weights, xt).map { Double($0) * Double($1) }.reduce(0, +)
            let magnitude = zip(weights, xt).map { abs(Double($0) * Double($1)) }.reduce(0, +)
            let got = xt.withUnsafeBufferPointer { kernel.dot(row: r, $0.baseAddress!) }
            worst = max(worst, abs(Double(got) - expected) / max(1, magnitude))
        }
        #expect(worst <= 1e-6, "\(name): float path off by \(worst)")
    }
}
