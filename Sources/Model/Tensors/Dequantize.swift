/// Reference dequantization: the exact float each stored value stands for.
/// Kernels that compute on quantized data directly are checked against this.
public enum Dequantize {
    /// Writes `count` values (a multiple of the type's block length) decoded
    /// from `source` into `destination`.
    public static func values(
        _ type: TensorType, from source: UnsafeRawPointer, count: Int,
        into destination: UnsafeMutablePointer<Float>
    ) {
        switch type {
        case .f32:
            for i in 0..<count {
                destination[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
        case .f16:
            for i in 0..<count { destination[i] = half(source, 2 * i) }
        case .bf16:
            for i in 0..<count { destination[i] = brain(source, 2 * i) }
        case .q4_0:
            for b in 0..<(count / 32) {
                let block = source + b * 18
                let d = half(block, 0)
                let out = destination + b * 32
                for j in 0..<16 {
                    let q = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                    out[j] = Float(Int(q & 0x0F) - 8) * d
                    out[j + 16] = Float(Int(q >> 4) - 8) * d
                }
            }
        case .q4_1:
            for b in 0..<(count / 32) {
                let block = source + b * 20
                let d = half(block, 0), m = half(block, 2)
                let out = destination + b * 32
                for j in 0..<16 {
                    let q = block.load(fromByteOffset: 4 + j, as: UInt8.self)
                    out[j] = Float(q & 0x0F) * d + m
                    out[j + 16] = Float(q >> 4) * d + m
                }
            }
        case .q8_0:
            for b in 0..<(count / 32) {
                let block = source + b * 34
                let d = half(block, 0)
                let out = destination + b * 32
                for j in 0..<32 {
                    out[j] = Float(block.load(fromByteOffset: 2 + j, as: Int8.self)) * d
                }
            }
        case .q5_0, .q5_1:
            fiveBit(type, from: source, count: count, into: destination)
        case .q4_K, .q5_K:
            kQuant(type, from: source, count: count, into: destination)
        case .q6_K:
            q6K(from: source, count: count, into: destination)
        case .q2_K:
            q2K(from: source, count: count, into: destination)
        case .q3_K:
            q3K(from: source, count: count, into: destination)
        default:
            preconditionFailure("dequantize called for \(type); callers check isComputable")
        }
    }

    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
    }

    /// A bfloat16 is the top half of an f32's bits, so this is exact.
    @inline(__always)
    static func brain(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))) << 16)
    }
}

extension GGUFTensor {
    func requireComputable() throws {
        guard type.isComputable else {
            throw GGUFError.unsupportedTensorType(name: name, type: type.name)
        }
    }

    /// Row `index` (shape[0] values) as floats.
    public func dequantizedRow(_ index: Int) throws -> [Float] {
        try requireComputable()
        precondition(index >= 0 && index < rowCount, "row \(index) out of range for '\(name)'")
        let rowBytes = type.rowBytes(rowLength)
        return [Float](unsafeUninitializedCapacity: rowLength) { buffer, initialized in
            Dequantize.values(type, from: data.baseAddress! + index * rowBytes, count: rowLength, into: buffer.baseAddress!)
            initialized = rowLength
        }
    }

    /// The whole tensor as floats, rows in order.
    public func dequantized() throws -> [Float] {
        try requireComputable()
        let n = elementCount
        return [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            Dequantize.values(type, from: data.baseAddress!, count: n, into: buffer.baseAddress!)
            initialized = n
        }
    }
}
