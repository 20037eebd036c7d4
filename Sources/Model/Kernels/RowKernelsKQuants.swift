/// Float-activation dot products of 5-bit and K-quant rows. Each 32-column
/// block is unpacked eight columns at a time to its stored unsigned values
/// q; lanes gather sum(q x) and sum(x) per block (per 16 columns for Q6_K's
/// two scales), and the block's formula scales them:
/// a block contributes scale * sum(q x) + offset * sum(x).
extension Kernels {
    /// sum(q x) and sum(x) over `groups` groups of eight columns from `first`.
    @inline(__always)
    static func sums(_ q: (Int) -> SIMD8<UInt8>, _ x: UnsafePointer<Float>, groups: Range<Int>) -> (qx: V8, x: V8) {
        var qx = V8(), sx = V8()
        for k in groups {
            let xs = load8(x + 8 * k)
            qx = qx.addingProduct(floats(q(k)), xs)
            sx += xs
        }
        return (qx, sx)
    }

    /// Bit `first + i` of `bits` in lane i, as 0 or 1.
    @inline(__always)
    static func bits(_ bits: UInt32, from first: Int) -> SIMD8<UInt8> {
        let shifts = SIMD8<UInt32>(0, 1, 2, 3, 4, 5, 6, 7) &+ UInt32(first)
        return SIMD8<UInt8>(truncatingIfNeeded: (SIMD8(repeating: bits) &>> shifts) & 1)
    }

    /// Q5_0 (x = (q - 16) d) and Q5_1 (x = q d + m).
    @inline(__always)
    static func dotFiveBit(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int, hasMinimum: Bool) -> Float {
        var acc = V8()
        let blockBytes = hasMinimum ? 24 : 22
        for b in 0..<(n / 32) {
            let block = FiveBitBlock(base: row + b * blockBytes, minimumBytes: hasMinimum ? 2 : 0)
            let high = block.highBits, nibbles = block.nibbles
            let s = sums({ k in
                let byte = nibbles.loadUnaligned(fromByteOffset: 8 * (k & 1), as: SIMD8<UInt8>.self)
                return (k < 2 ? byte & 0xF : byte &>> 4) | bits(high, from: 8 * k) &<< 4
            }, x + 32 * b, groups: 0..<4)
            let d = V8(repeating: block.d)
            let offset = hasMinimum ? V8(repeating: block.m) : V8(repeating: -16) * d
            acc = acc.addingProduct(d, s.qx).addingProduct(offset, s.x)
        }
        return horizontalSum(acc)
    }

    /// Q4_K and Q5_K: x = (d sc) q - dmin m per sub-block of 32.
    @inline(__always)
    static func dotK(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int, hasFifthBit: Bool) -> Float {
        var acc = V8()
        let blockBytes = hasFifthBit ? TensorType.q5_K.blockBytes : TensorType.q4_K.blockBytes
        for s in 0..<(n / 256) {
            let block = KSuperBlock(base: row + s * blockBytes, hasFifthBit: hasFifthBit)
            let d = block.d, dmin = block.dmin
            for j in 0..<8 {
                let nibbles = block.nibbles + 32 * (j / 2), fifth = block.fifthBits
                let sub = sums({ k in
                    let byte = nibbles.loadUnaligned(fromByteOffset: 8 * k, as: SIMD8<UInt8>.self)
                    let low = j & 1 == 0 ? byte & 0xF : byte &>> 4
                    guard hasFifthBit else { return low }
                    return low | ((fifth.loadUnaligned(fromByteOffset: 8 * k, as: SIMD8<UInt8>.self) &>> UInt8(j)) & 1) &<< 4
                }, x + 256 * s + 32 * j, groups: 0..<4)
                let (sc, m) = block.scaleAndMinimum(j)
                acc = acc.addingProduct(V8(repeating: d * Float(sc)), sub.qx).addingProduct(V8(repeating: -(dmin * Float(m))), sub.x)
            }
        }
        return horizontalSum(acc)
    }

    /// Q6_K: x = (d sc) (q - 32) per sub-block of 16.
    @inline(__always)
    static func dotQ6K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V8()
        for s in 0..<(n / 256) {
            let block = Q6KSuperBlock(base: row + s * TensorType.q6_K.blockBytes)
            addSignedSixteens(&acc, x + 256 * s, d: block.d, offset: 32, block.scale) { b, k in
                // Block b of 32 columns: half b / 4, quarter b % 4 of it.
                let half = b / 4, quarter = b % 4
                let nibbles = block.base + 64 * half + 32 * (quarter % 2), tops = block.base + 128 + 32 * half
                let byte = nibbles.loadUnaligned(fromByteOffset: 8 * k, as: SIMD8<UInt8>.self)
                let top = (tops.loadUnaligned(fromByteOffset: 8 * k, as: SIMD8<UInt8>.self) &>> UInt8(2 * quarter)) & 3
                return (quarter < 2 ? byte & 0xF : byte &>> 4) | top &<< 4
            }
        }
        return horizontalSum(acc)
    }

    /// One super-block of a format with a signed scale per 16 columns and
    /// values q - offset (Q6_K, Q3_K): acc + (d sc) sum(q x) - offset (d sc)
    /// sum(x) per 16 columns, `values(b, k)` the q of columns 32b + 8k...
    @inline(__always)
    static func addSignedSixteens(_ acc: inout V8, _ x: UnsafePointer<Float>, d: Float, offset: Float,
                                  _ scale: (Int) -> Int8, _ values: (_ b: Int, _ k: Int) -> SIMD8<UInt8>) {
        for b in 0..<8 {
            for h in 0..<2 {
                let sub = sums({ k in values(b, k) }, x + 32 * b, groups: (2 * h)..<(2 * h + 2))
                let scale = V8(repeating: d * Float(scale(2 * b + h)))
                acc = acc.addingProduct(scale, sub.qx).addingProduct(V8(repeating: -offset) * scale, sub.x)
            }
        }
    }

    /// The 2-bit parts of columns 32b + 8k..<32b + 8k + 8 of a Q2_K or Q3_K
    /// super-block: bits 2 (b % 4) of bytes 32 (b / 4) + 8k... (see
    /// `Q2KSuperBlock`).
    @inline(__always)
    static func twoBits(_ lowBits: UnsafeRawPointer, block b: Int, group k: Int) -> SIMD8<UInt8> {
        (lowBits.loadUnaligned(fromByteOffset: 32 * (b / 4) + 8 * k, as: SIMD8<UInt8>.self) &>> UInt8(2 * (b % 4))) & 3
    }

    /// Q2_K: x = (d sc) q - dmin m per sub-block of 16.
    @inline(__always)
    static func dotQ2K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V8()
        for s in 0..<(n / 256) {
            let block = Q2KSuperBlock(base: row + s * TensorType.q2_K.blockBytes)
            let d = block.d, dmin = block.dmin, values = block.values
            for b in 0..<8 {
                for h in 0..<2 {
                    let sub = sums({ k in twoBits(values, block: b, group: k) }, x + 256 * s + 32 * b, groups: (2 * h)..<(2 * h + 2))
                    let (sc, m) = block.scaleAndMinimum(2 * b + h)
                    acc = acc.addingProduct(V8(repeating: d * Float(sc)), sub.qx).addingProduct(V8(repeating: -(dmin * Float(m))), sub.x)
                }
            }
        }
        return horizontalSum(acc)
    }

    /// Q3_K: x = (d sc) (q - 4) per sub-block of 16.
    @inline(__always)
    static func dotQ3K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V8()
        for s in 0..<(n / 256) {
            let block = Q3KSuperBlock(base: row + s * TensorType.q3_K.blockBytes)
            let low = block.lowBits, third = block.thirdBits
            addSignedSixteens(&acc, x + 256 * s, d: block.d, offset: 4, block.scale) { b, k in
                let top = (third.loadUnaligned(fromByteOffset: 8 * k, as: SIMD8<UInt8>.self) &>> UInt8(b)) & 1
                return twoBits(low, block: b, group: k) | top &<< 2
            }
        }
        return horizontalSum(acc)
    }
}
