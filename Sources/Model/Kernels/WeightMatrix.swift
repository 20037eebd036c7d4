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

    public init(_ tensor: GGUFTensor, rows expectedRows: Int? = nil, columns expectedColumns: Int? = nil) throws {
        try tensor.requireComputable()
        guard tensor.shape.count <= 2 else {
            throw GGUFError.badTensor(name: tensor.name, reason: "expected a matrix, found shape \(tensor.shape)")
        }
        let rows = tensor.rowCount, columns = tensor.rowLength
        if let expectedRows, expectedRows != rows || expectedColumns.map({ $0 != columns }) == true {
            throw GGUFError.badTensor(name: tensor.name, reason: "shape \(tensor.shape), expected [\(expectedColumns ?? columns), \(expectedRows)]")
        }
        guard columns % 32 == 0 else {
            throw GGUFError.badTensor(name: tensor.name, reason: "row length \(columns) is not a multiple of 32")
        }
        name = tensor.name
        type = tensor.type
        self.rows = rows
        self.columns = columns
        data = tensor.data.baseAddress!
        rowBytes = tensor.type.rowBytes(columns)
    }

    private init(name: String, type: TensorType, rows: Int, columns: Int, data: UnsafeRawPointer, rowBytes: Int) {
        self.name = name
        self.type = type
        self.rows = rows
        self.columns = columns
        self.data = data
        self.rowBytes = rowBytes
    }

    /// Bytes of the whole matrix.
    public var byteCount: Int { rows * rowBytes }

    /// This matrix with its bytes copied to `destination` (`byteCount` bytes);
    /// the caller keeps that memory alive as long as the copy is used.
    func copied(to destination: UnsafeMutableRawPointer) -> WeightMatrix {
        destination.copyMemory(from: data, byteCount: byteCount)
        return WeightMatrix(name: name, type: type, rows: rows, columns: columns, data: destination, rowBytes: rowBytes)
    }

    /// What the kernels need, without the name: a plain value with no
    /// references, so threads sharing it never touch a reference count.
    public var rowsKernel: RowKernel { RowKernel(data: data, rowBytes: rowBytes, columns: columns, format: RowKernel.Format(type)) }

    /// Row `row` as floats (embedding lookup).
    public func copyRow(_ row: Int, into destination: UnsafeMutablePointer<Float>) {
        Dequantize.values(type, from: data + row * rowBytes, count: columns, into: destination)
    }
}

/// Dot products of the rows of one matrix with float or 8-bit vectors.
public struct RowKernel: Sendable {
    enum Format: Sendable {
        case q4_0, q4_1, q8_0, f16, f32

        init(_ type: TensorType) {
            switch type.id {
            case TensorType.q4_0.id: self = .q4_0
            case TensorType.q4_1.id: self = .q4_1
            case TensorType.q8_0.id: self = .q8_0
            case TensorType.f16.id: self = .f16
            default: self = .f32
            }
        }
    }

    nonisolated(unsafe) let data: UnsafeRawPointer
    let rowBytes: Int
    let columns: Int
    let format: Format

    /// How 8-bit activations must be laid out to meet this matrix's
    /// weights; nil when it multiplies float activations.
    var activationLayout: ActivationLayout? {
        switch format {
        case .q4_0, .q4_1: return .nibbles
        case .q8_0: return .bytes
        case .f16, .f32: return nil
        }
    }

    /// Row `row` times `x` (`columns` floats).
    @inline(__always)
    func dot(row: Int, _ x: UnsafePointer<Float>) -> Float {
        let p = data + row * rowBytes
        switch format {
        case .q4_1: return Kernels.dotQ4_1(p, x, columns)
        case .q8_0: return Kernels.dotQ8_0(p, x, columns)
        case .q4_0: return Kernels.dotQ4_0(p, x, columns)
        case .f16: return Kernels.dotF16(p, x, columns)
        case .f32: return Kernels.dotF32(p, x, columns)
        }
    }

    /// Row `row` times one quantized activation vector in this matrix's
    /// `activationLayout` (values q, block scales d, block sums s; see
    /// QuantizedActivations).
    @inline(__always)
    func dot(row: Int, _ q: UnsafePointer<Int16>, _ d: UnsafePointer<Float>, _ s: UnsafePointer<Float>,
             masks: Kernels.NibbleMasks) -> Float {
        let p = data + row * rowBytes
        switch format {
        case .q4_1: return Kernels.dot(Q4_1Blocks.self, p, q, d, s, columns, masks)
        case .q4_0: return Kernels.dot(Q4_0Blocks.self, p, q, d, s, columns, masks)
        default: return Kernels.dot(Q8_0Blocks.self, p, q, d, s, columns, masks)
        }
    }

    /// Rows `rows` times `count` quantized activation vectors: the leading
    /// groups of eight from the grouped copies (x8, d8, s8), the rest four
    /// then one at a time (q, d, s); y[t * stride + row]. Never inlined into
    /// the one-vector loop's function: sharing it made that loop, where
    /// decoding one sequence spends its time, a quarter slower.
    @inline(never)
    func multiply(rows: Range<Int>, _ q: UnsafePointer<Int16>, _ d: UnsafePointer<Float>, _ s: UnsafePointer<Float>,
                  grouped x8: UnsafePointer<Int16>, _ d8: UnsafePointer<Float>, _ s8: UnsafePointer<Float>,
                  count: Int, into y: UnsafeMutablePointer<Float>, stride: Int, masks: Kernels.NibbleMasks) {
        let blocks = columns / 32
        for row in rows {
            var t = 0
            while t + 8 <= count {
                let eight = dot8(row: row, x8 + t * columns, d8 + t * blocks, s8 + t * blocks, masks: masks)
                for k in 0..<8 { y[(t + k) * stride + row] = eight[k] }
                t += 8
            }
            while t + 4 <= count {
                let four = dot4(row: row, q + t * columns, d + t * blocks, s + t * blocks, masks: masks)
                for k in 0..<4 { y[(t + k) * stride + row] = four[k] }
                t += 4
            }
            while t < count {
                y[t * stride + row] = dot(row: row, q + t * columns, d + t * blocks, s + t * blocks, masks: masks)
                t += 1
            }
        }
    }

    /// Row `row` times a group of eight quantized activation vectors in the
    /// grouped layout (see `QuantizedActivations.groupedValues`),
    /// bit-identical to eight calls of `dot`.
    @inline(__always)
    func dot8(row: Int, _ x: UnsafePointer<Int16>, _ d: UnsafePointer<Float>, _ s: UnsafePointer<Float>,
              masks: Kernels.NibbleMasks) -> SIMD8<Float> {
        let p = data + row * rowBytes
        switch format {
        case .q4_1: return Kernels.dot8(Q4_1Blocks.self, p, x, d, s, columns, masks)
        case .q4_0: return Kernels.dot8(Q4_0Blocks.self, p, x, d, s, columns, masks)
        default: return Kernels.dot8(Q8_0Blocks.self, p, x, d, s, columns, masks)
        }
    }

    /// Row `row` times four consecutive quantized activation vectors,
    /// bit-identical to four calls of `dot`.
    @inline(__always)
    func dot4(row: Int, _ q: UnsafePointer<Int16>, _ d: UnsafePointer<Float>, _ s: UnsafePointer<Float>,
              masks: Kernels.NibbleMasks) -> SIMD4<Float> {
        let p = data + row * rowBytes
        switch format {
        case .q4_1: return Kernels.dot4(Q4_1Blocks.self, p, q, d, s, columns, columns, masks)
        case .q4_0: return Kernels.dot4(Q4_0Blocks.self, p, q, d, s, columns, columns, masks)
        default: return Kernels.dot4(Q8_0Blocks.self, p, q, d, s, columns, columns, masks)
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
        var acc = V8()
        for i in stride(from: 0, to: n, by: 8) {
            let h = row.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Float16>.self)
            var w = V8()
            for k in 0..<8 { w[k] = Float(h[k]) }
            acc = acc.addingProduct(w, load8(x + i))
        }
        return horizontalSum(acc)
    }

    @inline(__always)
    static func dotF32(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V8()
        for i in stride(from: 0, to: n, by: 8) {
            acc = acc.addingProduct(row.loadUnaligned(fromByteOffset: 4 * i, as: V8.self), load8(x + i))
        }
        return horizontalSum(acc)
    }

    /// Plain float dot product in the same fixed order (attention).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        dotF32(UnsafeRawPointer(a), b, n)
    }
}
