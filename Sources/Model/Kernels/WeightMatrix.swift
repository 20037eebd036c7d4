/// A weight matrix in the mapped file: `rows` rows of `columns` values each,
/// in any computable type. y = W x is one dot product per row.
///
/// Every dot product reduces in one fixed order that depends only on the
/// row and the vector, never on how many vectors are multiplied together:
/// this is what makes batching, chunked prefill and recomputation give
/// bit-identical results.
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let type: TensorType
    public let rows: Int
    public let columns: Int
    let data: UnsafeRawPointer
    let rowBytes: Int
    /// How `data` is laid out: nil for the file's rows, else panels of
    /// eight rows for the 8-bit kernels.
    let panels: PanelFormat?

    public init(_ tensor: GGUFTensor, rows expectedRows: Int? = nil, columns expectedColumns: Int? = nil) throws {
        try tensor.requireComputable()
        guard tensor.shape.count <= 2 else {
            throw GGUFError.badTensor(name: tensor.name, reason: "expected a matrix, found shape \(tensor.shape)")
        }
        let rows = tensor.rowCount, columns = tensor.rowLength
        if let expectedRows, expectedRows != rows || expectedColumns.map({ $0 != columns }) == true {
            throw GGUFError.badTensor(name: tensor.name, reason: "shape \(tensor.shape), expected [\(expectedColumns ?? columns), \(expectedRows)]")
        }
        guard columns % max(32, tensor.type.blockLength) == 0 else {
            throw GGUFError.badTensor(name: tensor.name, reason: "row length \(columns) is not a multiple of \(max(32, tensor.type.blockLength))")
        }
        name = tensor.name
        type = tensor.type
        self.rows = rows
        self.columns = columns
        data = tensor.data.baseAddress!
        rowBytes = tensor.type.rowBytes(columns)
        panels = nil
    }

    private init(name: String, type: TensorType, rows: Int, columns: Int, data: UnsafeRawPointer, rowBytes: Int,
                 panels: PanelFormat?) {
        self.name = name
        self.type = type
        self.rows = rows
        self.columns = columns
        self.data = data
        self.rowBytes = rowBytes
        self.panels = panels
    }

    /// Rows `range` of this matrix as a matrix of its own, named `name`: a
    /// fused projection's parts (phi3's Q, K and V in one tensor) are run
    /// as the separate matrices they are.
    func rows(_ range: Range<Int>, name: String) -> WeightMatrix {
        precondition(panels == nil && range.lowerBound >= 0 && range.upperBound <= rows, "rows of the file layout")
        return WeightMatrix(name: name, type: type, rows: range.count, columns: columns,
                            data: data + range.lowerBound * rowBytes, rowBytes: rowBytes, panels: nil)
    }

    /// Bytes of the whole matrix in its current layout.
    public var byteCount: Int { byteCount(as: panels) }

    /// Bytes of the matrix laid out as `layout` (nil: the file's rows).
    func byteCount(as layout: PanelFormat?) -> Int {
        layout.map { $0.byteCount(rows: rows, columns: columns) } ?? rows * rowBytes
    }

    /// This matrix copied to `destination` (`byteCount(as: target)` bytes),
    /// as panels if `target` is set; the caller keeps that memory alive as
    /// long as the copy is used.
    func copied(to destination: UnsafeMutableRawPointer, as target: PanelFormat?) -> WeightMatrix {
        precondition(panels == nil, "copy of a matrix already repacked")
        if let target {
            target.repack(data, rows: rows, columns: columns, into: destination)
        } else {
            destination.copyMemory(from: data, byteCount: byteCount)
        }
        return WeightMatrix(name: name, type: type, rows: rows, columns: columns, data: destination, rowBytes: rowBytes,
                            panels: target)
    }

    /// What the float kernels need, without the name: a plain value with no
    /// references, so threads sharing it never touch a reference count.
    public var rowsKernel: RowKernel {
        precondition(panels == nil, "float products read the file layout")
        return RowKernel(data: data, rowBytes: rowBytes, columns: columns, format: RowKernel.Format(type))
    }

    /// The 8-bit kernels' view, for a matrix in panels.
    var panelKernel: PanelKernel? {
        panels.map { PanelKernel(data: data, format: $0, rows: rows, columns: columns) }
    }

    /// Row `row` as floats (embedding lookup).
    public func copyRow(_ row: Int, into destination: UnsafeMutablePointer<Float>) {
        if let panels {
            panels.dequantizeRow(row, of: data, columns: columns, into: destination)
        } else {
            Dequantize.values(type, from: data + row * rowBytes, count: columns, into: destination)
        }
    }
}

/// Dot products of the rows of one matrix (file layout) with float vectors.
public struct RowKernel: Sendable {
    enum Format: Sendable {
        case q4_0, q4_1, q8_0, f16, bf16, f32, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K

        init(_ type: TensorType) {
            switch type.id {
            case TensorType.q5_0.id: self = .q5_0
            case TensorType.q2_K.id: self = .q2_K
            case TensorType.q3_K.id: self = .q3_K
            case TensorType.q5_1.id: self = .q5_1
            case TensorType.q4_K.id: self = .q4_K
            case TensorType.q5_K.id: self = .q5_K
            case TensorType.q6_K.id: self = .q6_K
            case TensorType.q4_0.id: self = .q4_0
            case TensorType.q4_1.id: self = .q4_1
            case TensorType.q8_0.id: self = .q8_0
            case TensorType.f16.id: self = .f16
            case TensorType.bf16.id: self = .bf16
            default: self = .f32
            }
        }
    }

    nonisolated(unsafe) let data: UnsafeRawPointer
    let rowBytes: Int
    let columns: Int
    let format: Format

    /// Row `row` times `x` (`columns` floats).
    @inline(__always)
    func dot(row: Int, _ x: UnsafePointer<Float>) -> Float {
        let p = data + row * rowBytes
        switch format {
        case .q4_1: return Kernels.dotQ4_1(p, x, columns)
        case .q8_0: return Kernels.dotQ8_0(p, x, columns)
        case .q4_0: return Kernels.dotQ4_0(p, x, columns)
        case .f16: return Kernels.dotF16(p, x, columns)
        case .bf16: return Kernels.dotBF16(p, x, columns)
        case .f32: return Kernels.dotF32(p, x, columns)
        case .q5_0: return Kernels.dotFiveBit(p, x, columns, hasMinimum: false)
        case .q5_1: return Kernels.dotFiveBit(p, x, columns, hasMinimum: true)
        case .q4_K: return Kernels.dotK(p, x, columns, hasFifthBit: false)
        case .q5_K: return Kernels.dotK(p, x, columns, hasFifthBit: true)
        case .q6_K: return Kernels.dotQ6K(p, x, columns)
        case .q2_K: return Kernels.dotQ2K(p, x, columns)
        case .q3_K: return Kernels.dotQ3K(p, x, columns)
        }
    }
}

/// Dot products of one quantized row with a float vector, SIMD over 32-value
/// blocks. The reduction order is fixed: lanes accumulate blocks in order,
/// then lanes are summed pairwise.
enum Kernels {
    typealias V8 = SIMD8<Float>

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> V8 {
        UnsafeRawPointer(p).loadUnaligned(as: V8.self)
    }

    /// Widens 8 bytes to floats lane by lane (stdlib conversions are calls).
    @inline(__always)
    static func floats(_ b: SIMD8<UInt8>) -> V8 {
        var f = V8()
        for i in 0..<8 { f[i] = Float(b[i]) }
        return f
    }

    @inline(__always)
    static func floats(_ b: SIMD8<Int8>) -> V8 {
        var f = V8()
        for i in 0..<8 { f[i] = Float(b[i]) }
        return f
    }

    @inline(__always)
    static func floats(_ v: SIMD8<Int32>) -> V8 {
        var f = V8()
        for i in 0..<8 { f[i] = Float(v[i]) }
        return f
    }

    /// Eight f16 values at `p` as floats (one vcvtph2ps).
    @inline(__always)
    static func halves(_ p: UnsafeRawPointer) -> V8 {
        let h = p.loadUnaligned(as: SIMD8<Float16>.self)
        var f = V8()
        for i in 0..<8 { f[i] = Float(h[i]) }
        return f
    }

    /// Eight signed bytes at `p` as floats (q8_0 K/V bytes).
    @inline(__always)
    static func signedBytes(_ p: UnsafeRawPointer) -> V8 {
        floats(p.loadUnaligned(as: SIMD8<Int8>.self))
    }

    /// Eight bfloat16 values at `p` as floats: each is the top half of an
    /// f32, so widening is a shift (lane by lane, which compiles to one
    /// `vpmovzxwd` and one `vpslld`).
    @inline(__always)
    static func brains(_ p: UnsafeRawPointer) -> V8 {
        let h = p.loadUnaligned(as: SIMD8<UInt16>.self)
        var w = SIMD8<UInt32>()
        for i in 0..<8 { w[i] = UInt32(h[i]) }
        return unsafeBitCast(w &<< 16, to: V8.self)
    }

    @inline(__always)
    static func horizontalSum(_ v: V8) -> Float {
        let a = v.lowHalf + v.highHalf
        let b = a.lowHalf + a.highHalf
        return b[0] + b[1]
    }

    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float { Dequantize.half(p, offset) }

    /// Q4_1: x = q*d + m, so a block contributes d*sum(q*x) + m*sum(x).
    @inline(__always)
    static func dotQ4_1(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V8()
        let mask = SIMD8<UInt8>(repeating: 0x0F)
        for b in 0..<(n / 32) {
            let block = row + b * 20
            let d = V8(repeating: half(block, 0)), m = V8(repeating: half(block, 2))
            let xs = x + b * 32
            var qx = V8(), sx = V8()
            for h in 0..<2 {
                let q = block.loadUnaligned(fromByteOffset: 4 + 8 * h, as: SIMD8<UInt8>.self)
                let lo = load8(xs + 8 * h), hi = load8(xs + 16 + 8 * h)
                qx = qx.addingProduct(floats(q & mask), lo).addingProduct(floats(q &>> 4), hi)
                sx += lo + hi
            }
            acc = acc.addingProduct(d, qx).addingProduct(m, sx)
        }
        return horizontalSum(acc)
    }

    /// Q4_0: x = (q - 8) * d.
    @inline(__always)
    static func dotQ4_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V8()
        let mask = SIMD8<UInt8>(repeating: 0x0F), eight = V8(repeating: 8)
        for b in 0..<(n / 32) {
            let block = row + b * 18
            let d = V8(repeating: half(block, 0))
            let xs = x + b * 32
            var qx = V8()
            for h in 0..<2 {
                let q = block.loadUnaligned(fromByteOffset: 2 + 8 * h, as: SIMD8<UInt8>.self)
                qx = qx.addingProduct(floats(q & mask) - eight, load8(xs + 8 * h))
                    .addingProduct(floats(q &>> 4) - eight, load8(xs + 16 + 8 * h))
            }
            acc = acc.addingProduct(d, qx)
        }
        return horizontalSum(acc)
    }

    /// Q8_0: x = q * d.
    @inline(__always)
    static func dotQ8_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V8()
        for b in 0..<(n / 32) {
            let block = row + b * 34
            let d = V8(repeating: half(block, 0))
            let xs = x + b * 32
            var qx = V8()
            for k in 0..<4 {
                let q = block.loadUnaligned(fromByteOffset: 2 + 8 * k, as: SIMD8<Int8>.self)
                qx = qx.addingProduct(floats(q), load8(xs + 8 * k))
            }
            acc = acc.addingProduct(d, qx)
        }
        return horizontalSum(acc)
    }

    @inline(__always)
    static func dotF16(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        dotTwoByte(row, x, n, halves)
    }

    @inline(__always)
    static func dotBF16(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        dotTwoByte(row, x, n, brains)
    }

    /// A row of 2-byte floats that `widen` turns to f32 eight at a time.
    @inline(__always)
    static func dotTwoByte(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int, _ widen: (UnsafeRawPointer) -> V8) -> Float {
        floatRowDot(row, x, n, elementBytes: 2, widen)
    }

    @inline(__always)
    static func dotF32(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        floatRowDot(row, x, n, elementBytes: 4) { $0.loadUnaligned(as: V8.self) }
    }

    /// A weight row of floats (n a multiple of 32, as every matrix's row
    /// is) in its fixed order: columns 32k + 8j..+7 into accumulator j, then
    /// (a0 + a1) + (a2 + a3) summed pairwise. Four chains of multiply-adds
    /// instead of one: a lone chain waits on every add, and a cache-resident
    /// F16 output projection ran 1.6x slower so.
    @inline(__always)
    static func floatRowDot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int, elementBytes: Int,
                            _ widen: (UnsafeRawPointer) -> V8) -> Float {
        var a0 = V8(), a1 = V8(), a2 = V8(), a3 = V8()
        for i in stride(from: 0, to: n, by: 32) {
            a0 = a0.addingProduct(widen(row + elementBytes * i), load8(x + i))
            a1 = a1.addingProduct(widen(row + elementBytes * (i + 8)), load8(x + i + 8))
            a2 = a2.addingProduct(widen(row + elementBytes * (i + 16)), load8(x + i + 16))
            a3 = a3.addingProduct(widen(row + elementBytes * (i + 24)), load8(x + i + 24))
        }
        return horizontalSum((a0 + a1) + (a2 + a3))
    }

    /// Plain float dot product, n a multiple of 8, in one fixed order
    /// (attention, norms).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V8()
        for i in stride(from: 0, to: n, by: 8) {
            acc = acc.addingProduct(load8(a + i), load8(b + i))
        }
        return horizontalSum(acc)
    }
}
