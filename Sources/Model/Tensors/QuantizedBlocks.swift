/// Where the fields of the 5-bit and K-quant blocks sit in a file block.
/// Dequantization, the float kernels and the panel repacking all read
/// blocks through these, so the bit layout is written down once.
///
/// `q` is always the stored unsigned value (0...31 for 5-bit, 0...15 for
/// Q4_K, 0...63 for Q6_K, 0...3 for Q2_K, 0...7 for Q3_K); what it stands
/// for is each type's formula.

/// A Q5_0 block (d, qh, qs) or Q5_1 block (d, m, qh, qs) of 32 values.
struct FiveBitBlock {
    let base: UnsafeRawPointer
    /// 0 for Q5_0; Q5_1 has its f16 minimum before the high bits.
    let minimumBytes: Int

    var d: Float { Dequantize.half(base, 0) }
    var m: Float { Dequantize.half(base, 2) }
    var highBits: UInt32 { UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 2 + minimumBytes, as: UInt32.self)) }
    var nibbles: UnsafeRawPointer { base + 6 + minimumBytes }

    /// Column j: the j-th high bit over nibble j (low) or j - 16 (high).
    @inline(__always)
    func q(_ j: Int) -> UInt8 {
        let byte = nibbles.load(fromByteOffset: j & 15, as: UInt8.self)
        let low = j < 16 ? byte & 0xF : byte >> 4
        return low | UInt8((highBits >> UInt32(j)) & 1) << 4
    }
}

/// A Q4_K or Q5_K super-block of 256 values: eight sub-blocks of 32, each
/// with a 6-bit scale and minimum.
struct KSuperBlock {
    let base: UnsafeRawPointer
    /// Q5_K has 32 bytes of fifth bits between the scales and the nibbles.
    let hasFifthBit: Bool

    var d: Float { Dequantize.half(base, 0) }
    var dmin: Float { Dequantize.half(base, 2) }

    /// Sub-block j's 6-bit scale and minimum. Bytes 0-3 hold the low six
    /// bits of scales 0-3, 4-7 those of minimums 0-3; scales and minimums
    /// 4-7 take their low four bits from bytes 8-11 and their top two from
    /// the spare top bits of bytes 0-3 and 4-7.
    @inline(__always)
    func scaleAndMinimum(_ j: Int) -> (scale: UInt8, minimum: UInt8) {
        @inline(__always) func byte(_ i: Int) -> UInt8 { base.load(fromByteOffset: 4 + i, as: UInt8.self) }
        if j < 4 { return (byte(j) & 63, byte(j + 4) & 63) }
        return ((byte(j + 4) & 0xF) | (byte(j - 4) >> 6) << 4, (byte(j + 4) >> 4) | (byte(j) >> 6) << 4)
    }

    var fifthBits: UnsafeRawPointer { base + 16 }
    var nibbles: UnsafeRawPointer { base + (hasFifthBit ? 48 : 16) }

    /// Column l of sub-block j: sub-blocks 2i and 2i + 1 share nibble bytes
    /// 32i..<32i+32 (low, high); Q5_K's fifth bit of column l is bit j of byte l.
    @inline(__always)
    func q(subBlock j: Int, _ l: Int) -> UInt8 {
        let byte = nibbles.load(fromByteOffset: 32 * (j / 2) + l, as: UInt8.self)
        let low = j & 1 == 0 ? byte & 0xF : byte >> 4
        guard hasFifthBit else { return low }
        return low | ((fifthBits.load(fromByteOffset: l, as: UInt8.self) >> UInt8(j)) & 1) << 4
    }
}

/// A Q6_K super-block of 256 values: sixteen sub-blocks of 16 with signed
/// 8-bit scales.
struct Q6KSuperBlock {
    let base: UnsafeRawPointer

    var d: Float { Dequantize.half(base, 208) }

    /// The scale of columns 16s..<16s+16.
    @inline(__always)
    func scale(_ s: Int) -> Int8 { base.load(fromByteOffset: 192 + s, as: Int8.self) }

    /// Column c: each half of 128 columns has 64 nibble bytes (columns 0-63
    /// low, 64-127 high) and 32 bytes whose bit pairs 2k, 2k+1 are the top
    /// bits of columns 32k + l.
    @inline(__always)
    func q(_ c: Int) -> UInt8 {
        let half = c / 128, within = c % 128, k = within / 32, l = within % 32
        let byte = base.load(fromByteOffset: 64 * half + within % 64, as: UInt8.self)
        let low = within < 64 ? byte & 0xF : byte >> 4
        let top = (base.load(fromByteOffset: 128 + 32 * half + l, as: UInt8.self) >> UInt8(2 * k)) & 3
        return low | top << 4
    }
}

/// The 2-bit part of a Q2_K or Q3_K super-block's values: column c is in
/// byte 32 (c / 128) + c % 32 of `lowBits`, at bits 2k, 2k + 1 with
/// k = (c % 128) / 32.
@inline(__always)
private func twoBitValue(_ lowBits: UnsafeRawPointer, _ c: Int) -> UInt8 {
    let within = c % 128
    return (lowBits.load(fromByteOffset: 32 * (c / 128) + within % 32, as: UInt8.self) >> UInt8(2 * (within / 32))) & 3
}

/// A Q2_K super-block of 256 values: sixteen sub-blocks of 16, each with a
/// 4-bit scale and a 4-bit minimum.
struct Q2KSuperBlock {
    let base: UnsafeRawPointer

    var d: Float { Dequantize.half(base, 80) }
    var dmin: Float { Dequantize.half(base, 82) }

    /// Sub-block s's scale (low nibble of byte s) and minimum (high nibble).
    @inline(__always)
    func scaleAndMinimum(_ s: Int) -> (scale: UInt8, minimum: UInt8) {
        let byte = base.load(fromByteOffset: s, as: UInt8.self)
        return (byte & 0xF, byte >> 4)
    }

    var values: UnsafeRawPointer { base + 16 }

    /// Column c's q, 0...3.
    @inline(__always)
    func q(_ c: Int) -> UInt8 { twoBitValue(values, c) }
}

/// A Q3_K super-block of 256 values: sixteen sub-blocks of 16 with 6-bit
/// scales stored as sc + 32.
struct Q3KSuperBlock {
    let base: UnsafeRawPointer

    var d: Float { Dequantize.half(base, 108) }

    var thirdBits: UnsafeRawPointer { base }
    var lowBits: UnsafeRawPointer { base + 32 }

    /// Sub-block s's signed scale, -32...31. Bytes 0-7 hold the low four
    /// bits (scales 0-7 in low nibbles, 8-15 in high ones); bytes 8-11
    /// the top two, scale s at bits 2 (s / 4) of byte 8 + s % 4.
    @inline(__always)
    func scale(_ s: Int) -> Int8 {
        let low = base.load(fromByteOffset: 96 + s % 8, as: UInt8.self) >> UInt8(4 * (s / 8)) & 0xF
        let top = base.load(fromByteOffset: 104 + s % 4, as: UInt8.self) >> UInt8(2 * (s / 4)) & 3
        return Int8(low | top << 4) - 32
    }

    /// Column c's stored q, 0...7 (the value is q - 4): two low bits, and
    /// bit c / 32 of byte c % 32 of the third bits.
    @inline(__always)
    func q(_ c: Int) -> UInt8 {
        twoBitValue(lowBits, c) | ((thirdBits.load(fromByteOffset: c % 32, as: UInt8.self) >> UInt8(c / 32)) & 1) << 2
    }
}
