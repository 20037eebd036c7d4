/// Activation vectors quantized to 8 bits in blocks of 32, the way llama.cpp
/// does before multiplying them with 4- and 8-bit weights (its Q8_1 / Q8_0):
/// d = max|x| / 127 rounded to f16, q = round-half-even(x * 127 / max|x|),
/// s = d * sum(q) rounded to f16. A weight block then costs one integer dot
/// product: sum((q_w * d_w + m_w) * q_x * d_x) = d_w d_x sum(q_w q_x) + m_w s.
///
/// Quantizing costs one pass over x and is shared by every matrix that
/// multiplies the same vector (Q, K and V; gate and up).
struct QuantizedActivations {
    let columns: Int
    /// False when the model multiplies with exact float activations: then
    /// `quantize` does nothing and the matrices read the float input.
    let isEnabled: Bool
    /// `count * columns` quantized values, vector after vector.
    private(set) var values: [Int8] = []
    /// Per block: the scale d and d * sum(q).
    private(set) var scales: [Float] = []
    private(set) var sums: [Float] = []

    init(columns: Int, isEnabled: Bool) {
        precondition(columns % 32 == 0)
        self.columns = columns
        self.isEnabled = isEnabled
    }

    mutating func quantize(_ x: [Float], count: Int) {
        guard isEnabled else { return }
        let blocks = count * columns / 32
        if values.count < count * columns {
            values = [Int8](repeating: 0, count: count * columns)
            scales = [Float](repeating: 0, count: blocks)
            sums = [Float](repeating: 0, count: blocks)
        }
        x.withUnsafeBufferPointer { xs in
            values.withUnsafeMutableBufferPointer { qs in
                for b in 0..<blocks {
                    let source = xs.baseAddress! + 32 * b
                    var amax: Float = 0
                    for j in 0..<32 { amax = max(amax, abs(source[j])) }
                    let d = Float(Float16(amax / 127))
                    let inverse: Float = amax != 0 ? 127 / amax : 0
                    var sum: Int32 = 0
                    for j in 0..<32 {
                        let q = Int8((source[j] * inverse).rounded(.toNearestOrEven))
                        qs[32 * b + j] = q
                        sum += Int32(q)
                    }
                    scales[b] = d
                    sums[b] = Float(Float16(amax / 127 * Float(sum)))
                }
            }
        }
    }
}

/// Integer dot products of quantized weight rows with quantized activations.
extension Kernels {
    /// Lane-by-lane widening; the loop form compiles to one instruction.
    @inline(__always)
    static func widen(_ v: SIMD16<UInt8>) -> SIMD16<Int16> {
        var r = SIMD16<Int16>()
        for i in 0..<16 { r[i] = Int16(v[i]) }
        return r
    }

    @inline(__always)
    static func widen(_ v: SIMD16<Int8>) -> SIMD16<Int16> {
        var r = SIMD16<Int16>()
        for i in 0..<16 { r[i] = Int16(v[i]) }
        return r
    }

    /// a[2i]*b[2i] + a[2i+1]*b[2i+1] in 32 bits. Written as "widen, multiply
    /// lane by lane, add even and odd lanes", LLVM emits one vpmaddwd;
    /// pairing the lanes before the multiply does not.
    @inline(__always)
    static func multiplyAddPairs(_ a: SIMD16<Int16>, _ b: SIMD16<Int16>) -> SIMD8<Int32> {
        var wa = SIMD16<Int32>(), wb = SIMD16<Int32>()
        for i in 0..<16 { wa[i] = Int32(a[i]); wb[i] = Int32(b[i]) }
        let p = wa &* wb
        var r = SIMD8<Int32>()
        for i in 0..<8 { r[i] = p[2 * i] &+ p[2 * i + 1] }
        return r
    }

    @inline(__always)
    static func floats(_ v: SIMD8<Int32>) -> V8 {
        var f = V8()
        for i in 0..<8 { f[i] = Float(v[i]) }
        return f
    }

    /// Q4_1 row with quantized activations: per block d_w d_x sum(q_w q_x) + m_w s_x.
    @inline(__always)
    static func dotQ4_1(_ row: UnsafeRawPointer, _ q: UnsafePointer<Int8>, _ d: UnsafePointer<Float>,
                        _ s: UnsafePointer<Float>, _ n: Int, mask: SIMD16<UInt8>) -> Float {
        var acc = V8()
        var minimums: Float = 0
        let x = UnsafeRawPointer(q)
        for b in 0..<(n / 32) {
            let block = row + b * 20
            let w = block.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
            let lo = widen(w & mask), hi = widen((w &>> 4) & mask)
            let xa = widen(x.loadUnaligned(fromByteOffset: 32 * b, as: SIMD16<Int8>.self))
            let xb = widen(x.loadUnaligned(fromByteOffset: 32 * b + 16, as: SIMD16<Int8>.self))
            let products = multiplyAddPairs(lo, xa) &+ multiplyAddPairs(hi, xb)
            acc = acc.addingProduct(floats(products), V8(repeating: half(block, 0) * d[b]))
            minimums += half(block, 2) * s[b]
        }
        return horizontalSum(acc) + minimums
    }

    /// Q4_0 row: d_w d_x sum((q_w - 8) q_x).
    @inline(__always)
    static func dotQ4_0(_ row: UnsafeRawPointer, _ q: UnsafePointer<Int8>, _ d: UnsafePointer<Float>,
                        _ n: Int, mask: SIMD16<UInt8>) -> Float {
        var acc = V8()
        let x = UnsafeRawPointer(q)
        let eight = SIMD16<Int16>(repeating: 8)
        for b in 0..<(n / 32) {
            let block = row + b * 18
            let w = block.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
            let lo = widen(w & mask) &- eight, hi = widen((w &>> 4) & mask) &- eight
            let xa = widen(x.loadUnaligned(fromByteOffset: 32 * b, as: SIMD16<Int8>.self))
            let xb = widen(x.loadUnaligned(fromByteOffset: 32 * b + 16, as: SIMD16<Int8>.self))
            let products = multiplyAddPairs(lo, xa) &+ multiplyAddPairs(hi, xb)
            acc = acc.addingProduct(floats(products), V8(repeating: half(block, 0) * d[b]))
        }
        return horizontalSum(acc)
    }

    /// Q8_0 row: d_w d_x sum(q_w q_x).
    @inline(__always)
    static func dotQ8_0(_ row: UnsafeRawPointer, _ q: UnsafePointer<Int8>, _ d: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V8()
        let x = UnsafeRawPointer(q)
        for b in 0..<(n / 32) {
            let block = row + b * 34
            let wa = widen(block.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self))
            let wb = widen(block.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self))
            let xa = widen(x.loadUnaligned(fromByteOffset: 32 * b, as: SIMD16<Int8>.self))
            let xb = widen(x.loadUnaligned(fromByteOffset: 32 * b + 16, as: SIMD16<Int8>.self))
            let products = multiplyAddPairs(wa, xa) &+ multiplyAddPairs(wb, xb)
            acc = acc.addingProduct(floats(products), V8(repeating: half(block, 0) * d[b]))
        }
        return horizontalSum(acc)
    }
}
