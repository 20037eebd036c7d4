/// The 5-bit and K-quant formulas, in the float32 order the gguf package
/// computes them (so values agree to the last bit or so); the panel layouts
/// read back through the same functions.
extension Dequantize {
    /// Q5_0: (q - 16) d.
    @inline(__always)
    static func q5_0Value(_ q: UInt8, d: Float) -> Float { d * Float(Int(q) - 16) }

    /// Q5_1: q d + m.
    @inline(__always)
    static func q5_1Value(_ q: UInt8, d: Float, m: Float) -> Float { d * Float(q) + m }

    /// Q4_K and Q5_K: (d sc) q - dmin m, with `scale` = d sc and `minimum` = dmin m.
    @inline(__always)
    static func kValue(_ q: UInt8, scale: Float, minimum: Float) -> Float { scale * Float(q) - minimum }

    /// Q6_K: (d sc) (q - 32), with `scale` = d sc.
    @inline(__always)
    static func q6KValue(_ q: UInt8, scale: Float) -> Float { scale * Float(Int(q) - 32) }

    static func fiveBit(_ type: TensorType, from source: UnsafeRawPointer, count: Int,
                        into destination: UnsafeMutablePointer<Float>) {
        let hasMinimum = type == .q5_1
        for b in 0..<(count / 32) {
            let block = FiveBitBlock(base: source + b * type.blockBytes, minimumBytes: hasMinimum ? 2 : 0)
            let d = block.d, m = hasMinimum ? block.m : 0
            for j in 0..<32 {
                destination[32 * b + j] = hasMinimum ? q5_1Value(block.q(j), d: d, m: m) : q5_0Value(block.q(j), d: d)
            }
        }
    }

    static func kQuant(_ type: TensorType, from source: UnsafeRawPointer, count: Int,
                       into destination: UnsafeMutablePointer<Float>) {
        for s in 0..<(count / 256) {
            let block = KSuperBlock(base: source + s * type.blockBytes, hasFifthBit: type == .q5_K)
            let d = block.d, dmin = block.dmin
            for j in 0..<8 {
                let (sc, m) = block.scaleAndMinimum(j)
                let scale = d * Float(sc), minimum = dmin * Float(m)
                for l in 0..<32 {
                    destination[256 * s + 32 * j + l] = kValue(block.q(subBlock: j, l), scale: scale, minimum: minimum)
                }
            }
        }
    }

    static func q6K(from source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for s in 0..<(count / 256) {
            let block = Q6KSuperBlock(base: source + s * TensorType.q6_K.blockBytes)
            let d = block.d
            for c in 0..<256 {
                destination[256 * s + c] = q6KValue(block.q(c), scale: d * Float(block.scale(c / 16)))
            }
        }
    }

    /// Q2_K: (d sc) q - dmin m per sub-block of 16 (`kValue`).
    static func q2K(from source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for s in 0..<(count / 256) {
            let block = Q2KSuperBlock(base: source + s * TensorType.q2_K.blockBytes)
            let d = block.d, dmin = block.dmin
            for j in 0..<16 {
                let (sc, m) = block.scaleAndMinimum(j)
                let scale = d * Float(sc), minimum = dmin * Float(m)
                for l in 0..<16 {
                    destination[256 * s + 16 * j + l] = kValue(block.q(16 * j + l), scale: scale, minimum: minimum)
                }
            }
        }
    }

    /// Q3_K: (d sc) (q - 4) per sub-block of 16, which is Q6_K's formula
    /// with q + 28 for q (so the Q6_K panels carry Q3_K exactly).
    static func q3K(from source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for s in 0..<(count / 256) {
            let block = Q3KSuperBlock(base: source + s * TensorType.q3_K.blockBytes)
            let d = block.d
            for c in 0..<256 {
                destination[256 * s + c] = q6KValue(block.q(c) + 28, scale: d * Float(block.scale(c / 16)))
            }
        }
    }
}
