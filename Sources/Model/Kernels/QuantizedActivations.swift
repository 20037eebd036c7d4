/// Activation vectors quantized to 8 bits in blocks of 32, the way llama.cpp
/// does before multiplying them with 4- and 8-bit weights (its Q8_1 / Q8_0):
/// d = max|x| / 127 rounded to f16, q = round-half-even(x * 127 / max|x|),
/// s = d * sum(q) rounded to f16. A weight block then costs one integer dot
/// product: sum((q_w * d_w + m_w) * q_x * d_x) = d_w d_x sum(q_w q_x) + m_w s.
///
/// The values are stored widened to 16 bits and permuted, once per vector,
/// into the lane order in which the kernels unpack weights without moving
/// bytes across 128-bit lanes (see `ActivationLayout`). Quantizing is shared
/// by every matrix that multiplies the same vector (Q, K and V; gate and up).
struct QuantizedActivations {
    let columns: Int
    /// False when the model multiplies with exact float activations: then
    /// nothing is quantized and the matrices read the float input.
    let isEnabled: Bool
    /// `count * columns` values, vector after vector, block after block, in
    /// the order of `layout`.
    private(set) var values: [Int16] = []
    /// Per block: the scale d and d * sum(q).
    private(set) var scales: [Float] = []
    private(set) var sums: [Float] = []
    /// The leading `count / 8 * 8` vectors again, in groups of eight
    /// interleaved block by block (group g, block b, vector k of the group:
    /// values at ((g * blocks + b) * 8 + k) * 32, scale and sum at
    /// (g * blocks + b) * 8 + k), so that the eight-vector kernel finds each
    /// vector's data at a fixed offset from one pointer and eight scales or
    /// sums in one vector load.
    private(set) var groupedValues: [Int16] = []
    private(set) var groupedScales: [Float] = []
    private(set) var groupedSums: [Float] = []
    /// The layout `values` holds, nil until something is quantized.
    private(set) var layout: ActivationLayout? = nil
    /// Scratch for one block in natural order.
    private var block = [Int8](repeating: 0, count: 32)

    init(columns: Int, isEnabled: Bool) {
        precondition(columns % 32 == 0)
        self.columns = columns
        self.isEnabled = isEnabled
    }

    /// Forgets the current vectors: the next `prepare` quantizes again.
    mutating func invalidate() { layout = nil }

    /// Makes `values` hold `count` vectors of `x` in `layout`, quantizing
    /// unless they already do.
    mutating func prepare(_ x: UnsafePointer<Float>, count: Int, layout wanted: ActivationLayout) {
        guard isEnabled, layout != wanted else { return }
        let blocks = count * columns / 32
        if values.count < count * columns {
            values = [Int16](repeating: 0, count: count * columns)
            scales = [Float](repeating: 0, count: blocks)
            sums = [Float](repeating: 0, count: blocks)
            groupedValues = values
            groupedScales = scales
            groupedSums = sums
        }
        let order = wanted == .nibbles ? ActivationLayout.nibbleOrder : ActivationLayout.byteOrder
        block.withUnsafeMutableBufferPointer { natural in
        values.withUnsafeMutableBufferPointer { out in
            for b in 0..<blocks {
                let source = x + 32 * b
                var amax: Float = 0
                for j in 0..<32 { amax = max(amax, abs(source[j])) }
                let inverse: Float = amax != 0 ? 127 / amax : 0
                var sum: Int32 = 0
                for j in 0..<32 {
                    let q = Int8((source[j] * inverse).rounded(.toNearestOrEven))
                    natural[j] = q
                    sum += Int32(q)
                }
                for j in 0..<32 { out[32 * b + j] = Int16(natural[Int(order[j])]) }
                scales[b] = Float(Float16(amax / 127))
                sums[b] = Float(Float16(amax / 127 * Float(sum)))
            }
        }}
        group(count: count)
        layout = wanted
    }
}

extension QuantizedActivations {
    /// Fills the grouped copies (see `groupedValues`) from `values`,
    /// `scales` and `sums`.
    private mutating func group(count: Int) {
        let perVector = columns / 32
        groupedValues.withUnsafeMutableBufferPointer { grouped in
        values.withUnsafeBufferPointer { plain in
            for g in 0..<(count / 8) {
                for b in 0..<perVector {
                    for k in 0..<8 {
                        let from = ((8 * g + k) * perVector + b) * 32, to = ((g * perVector + b) * 8 + k) * 32
                        (grouped.baseAddress! + to).update(from: plain.baseAddress! + from, count: 32)
                        groupedScales[(g * perVector + b) * 8 + k] = scales[(8 * g + k) * perVector + b]
                        groupedSums[(g * perVector + b) * 8 + k] = sums[(8 * g + k) * perVector + b]
                    }
                }
            }
        }}
    }
}

/// The order of a block's 32 activations that meets a weight format's
/// unpacking. Loading weight bytes as 16-bit lanes and shifting and masking
/// inside each lane is cheap; widening bytes across the halves of a 256-bit
/// register is not (../shared/KERNEL-NOTES.md). So the weights stay where
/// they fall and the activations, permuted once per vector, come to meet them.
enum ActivationLayout: Sendable {
    /// 4-bit blocks: byte j holds q[j] (low nibble) and q[j + 16] (high).
    /// The 16 bytes are read as eight 16-bit words w_i = byte 2i | byte 2i+1 << 8
    /// and duplicated into both halves of a 16-lane vector; masking with
    /// 0x000F / 0x0F00 gives q[2i] in the low half and q[2i+1] * 256 in the
    /// high half, and the same after a shift by 4 gives q[16+2i], q[17+2i] * 256.
    case nibbles
    /// 8-bit blocks: the 32 bytes read as sixteen 16-bit words hold q[2i] in
    /// their low and q[2i+1] in their high byte.
    case bytes

    /// order[k] = the natural index of the activation stored at position k.
    static let nibbleOrder: [UInt8] = (0..<8).map { UInt8(2 * $0) } + (0..<8).map { UInt8(2 * $0 + 1) }
        + (0..<8).map { UInt8(16 + 2 * $0) } + (0..<8).map { UInt8(17 + 2 * $0) }
    static let byteOrder: [UInt8] = (0..<16).map { UInt8(2 * $0) } + (0..<16).map { UInt8(2 * $0 + 1) }
}

/// Integer dot products of quantized weight rows with quantized activations.
extension Kernels {
    typealias I16 = SIMD16<Int16>

    /// a[2i]*b[2i] + a[2i+1]*b[2i+1] in 32 bits. Written as "widen, multiply
    /// lane by lane, add even and odd lanes", LLVM emits one vpmaddwd;
    /// pairing the lanes before the multiply does not.
    @inline(__always)
    static func multiplyAddPairs(_ a: I16, _ b: I16) -> SIMD8<Int32> {
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

    @inline(__always)
    static func loadI16(_ p: UnsafePointer<Int16>) -> I16 {
        UnsafeRawPointer(p).loadUnaligned(as: I16.self)
    }

    /// Eight 16-bit words, duplicated into both halves of a 16-lane vector.
    @inline(__always)
    static func loadDuplicated(_ p: UnsafeRawPointer) -> I16 {
        let w = p.loadUnaligned(as: SIMD8<Int16>.self)
        var r = I16()
        for i in 0..<8 { r[i] = w[i]; r[i + 8] = w[i] }
        return r
    }

    /// Masks and scales for the nibble layout, passed in at run time: as
    /// constants LLVM rewrites the in-lane shift and mask into slower
    /// pack/unpack sequences.
    struct NibbleMasks: Sendable {
        /// 0x000F in the low half, 0x0F00 in the high half.
        let select: I16
        /// 8 and 8 * 256: the Q4_0 offset in each half's scale.
        let offset: I16
        /// 1 in the low four lanes, 1/256 in the high four: undoes the
        /// high half's factor of 256 (exact, a power of two).
        let laneScale: V8

        init(runtimeZero zero: Int) {
            var select = I16(), offset = I16()
            for i in 0..<16 {
                select[i] = Int16(truncatingIfNeeded: (i < 8 ? 0x000F : 0x0F00) &+ zero)
                offset[i] = Int16(truncatingIfNeeded: (i < 8 ? 8 : 2048) &+ zero)
            }
            var laneScale = V8()
            for i in 0..<8 { laneScale[i] = i < 4 ? 1 : 1.0 / 256 }
            self.select = select
            self.offset = offset
            self.laneScale = laneScale
        }
    }

    /// One weight row times one activation vector: per block
    /// d_w d_x sum(q_w q_x) (+ m_w s_x for formats with a minimum).
    @inline(__always)
    static func dot<F: Int8WeightBlocks>(_: F.Type, _ row: UnsafeRawPointer, _ x: UnsafePointer<Int16>,
                                          _ d: UnsafePointer<Float>, _ s: UnsafePointer<Float>, _ n: Int,
                                          _ masks: NibbleMasks) -> Float {
        var acc = V8()
        var minimums: Float = 0
        for b in 0..<(n / 32) {
            let block = row + b * F.blockBytes
            let (first, second) = F.unpack(block, masks)
            let products = multiplyAddPairs(first, loadI16(x + 32 * b)) &+ multiplyAddPairs(second, loadI16(x + 32 * b + 16))
            acc = acc.addingProduct(floats(products) * V8(repeating: d[b]), V8(repeating: F.scale(block)))
            if F.hasMinimum { minimums += F.minimum(block) * s[b] }
        }
        return horizontalSum(F.isLaneScaled ? acc * masks.laneScale : acc) + minimums
    }

    /// One weight row times four activation vectors (`stride` values and
    /// `stride / 32` blocks apart), unpacking each weight block once. Every
    /// result is computed by exactly the operations of `dot`, in the same
    /// order, so it is bit-identical to it: batching stays invisible.
    @inline(__always)
    static func dot4<F: Int8WeightBlocks>(_: F.Type, _ row: UnsafeRawPointer, _ x: UnsafePointer<Int16>,
                                           _ d: UnsafePointer<Float>, _ s: UnsafePointer<Float>, _ n: Int,
                                           _ stride: Int, _ masks: NibbleMasks) -> SIMD4<Float> {
        var a0 = V8(), a1 = V8(), a2 = V8(), a3 = V8()
        var m0: Float = 0, m1: Float = 0, m2: Float = 0, m3: Float = 0
        let blocks = n / 32
        for b in 0..<blocks {
            let block = row + b * F.blockBytes
            let (first, second) = F.unpack(block, masks)
            let scale = F.scale(block), minimum = F.minimum(block)
            @inline(__always) func step(_ k: Int, _ acc: inout V8, _ m: inout Float) {
                let xk = x + k * stride + 32 * b
                let products = multiplyAddPairs(first, loadI16(xk)) &+ multiplyAddPairs(second, loadI16(xk + 16))
                acc = acc.addingProduct(floats(products) * V8(repeating: d[k * blocks + b]), V8(repeating: scale))
                if F.hasMinimum { m += minimum * s[k * blocks + b] }
            }
            step(0, &a0, &m0); step(1, &a1, &m1); step(2, &a2, &m2); step(3, &a3, &m3)
        }
        @inline(__always) func finish(_ acc: V8, _ m: Float) -> Float {
            horizontalSum(F.isLaneScaled ? acc * masks.laneScale : acc) + m
        }
        return SIMD4(finish(a0, m0), finish(a1, m1), finish(a2, m2), finish(a3, m3))
    }
}

extension Kernels {
    /// One weight row times a group of eight activation vectors in the
    /// grouped layout of `QuantizedActivations` (values x, scales d, sums s
    /// of the group), unpacking each weight block once. Lane k is computed by
    /// exactly the operations of `dot` on vector k, in the same order, so the
    /// results are bit-identical to it.
    @inline(__always)
    static func dot8<F: Int8WeightBlocks>(_: F.Type, _ row: UnsafeRawPointer, _ x: UnsafePointer<Int16>,
                                           _ d: UnsafePointer<Float>, _ s: UnsafePointer<Float>, _ n: Int,
                                           _ masks: NibbleMasks) -> V8 {
        var a0 = V8(), a1 = V8(), a2 = V8(), a3 = V8(), a4 = V8(), a5 = V8(), a6 = V8(), a7 = V8()
        // The minimum's terms, the eight vectors in one lane each: in the
        // main loop, where the chain of additions hides behind the products
        // (alone after it, it cost a fifth of the time).
        var minimums = V8()
        let blocks = n / 32
        for b in 0..<blocks {
            let block = row + b * F.blockBytes
            let (first, second) = F.unpack(block, masks)
            let scale = V8(repeating: F.scale(block))
            let xb = x + 256 * b, db = d + 8 * b
            @inline(__always) func step(_ k: Int, _ acc: inout V8) {
                let products = multiplyAddPairs(first, loadI16(xb + 32 * k)) &+ multiplyAddPairs(second, loadI16(xb + 32 * k + 16))
                acc = acc.addingProduct(floats(products) * V8(repeating: db[k]), scale)
            }
            step(0, &a0); step(1, &a1); step(2, &a2); step(3, &a3)
            step(4, &a4); step(5, &a5); step(6, &a6); step(7, &a7)
            if F.hasMinimum { minimums += V8(repeating: F.minimum(block)) * load8(s + 8 * b) }
        }
        @inline(__always) func finish(_ acc: V8) -> Float { horizontalSum(F.isLaneScaled ? acc * masks.laneScale : acc) }
        return V8(finish(a0), finish(a1), finish(a2), finish(a3), finish(a4), finish(a5), finish(a6), finish(a7)) + minimums
    }
}

/// A weight block format that multiplies 8-bit activations: how a block's
/// 32 weights unpack into two 16-lane vectors in the order of its
/// `ActivationLayout`, and its scale (and minimum).
protocol Int8WeightBlocks {
    static var blockBytes: Int { get }
    static var hasMinimum: Bool { get }
    /// Whether the high lanes of the products carry the factor 256 of the nibble layout.
    static var isLaneScaled: Bool { get }
    static func unpack(_ block: UnsafeRawPointer, _ masks: Kernels.NibbleMasks) -> (Kernels.I16, Kernels.I16)
    static func scale(_ block: UnsafeRawPointer) -> Float
    static func minimum(_ block: UnsafeRawPointer) -> Float
}

/// Q4_1: d, m, then 16 bytes of nibbles; x = q d + m.
enum Q4_1Blocks: Int8WeightBlocks {
    static var blockBytes: Int { 20 }
    static var hasMinimum: Bool { true }
    static var isLaneScaled: Bool { true }
    @inline(__always)
    static func unpack(_ block: UnsafeRawPointer, _ masks: Kernels.NibbleMasks) -> (Kernels.I16, Kernels.I16) {
        let w = Kernels.loadDuplicated(block + 4)
        return (w & masks.select, (w &>> 4) & masks.select)
    }
    @inline(__always) static func scale(_ block: UnsafeRawPointer) -> Float { Kernels.half(block, 0) }
    @inline(__always) static func minimum(_ block: UnsafeRawPointer) -> Float { Kernels.half(block, 2) }
}

/// Q4_0: d, then 16 bytes of nibbles; x = (q - 8) d.
enum Q4_0Blocks: Int8WeightBlocks {
    static var blockBytes: Int { 18 }
    static var hasMinimum: Bool { false }
    static var isLaneScaled: Bool { true }
    @inline(__always)
    static func unpack(_ block: UnsafeRawPointer, _ masks: Kernels.NibbleMasks) -> (Kernels.I16, Kernels.I16) {
        let w = Kernels.loadDuplicated(block + 2)
        return ((w & masks.select) &- masks.offset, ((w &>> 4) & masks.select) &- masks.offset)
    }
    @inline(__always) static func scale(_ block: UnsafeRawPointer) -> Float { Kernels.half(block, 0) }
    @inline(__always) static func minimum(_ block: UnsafeRawPointer) -> Float { 0 }
}

/// Q8_0: d, then 32 signed bytes; x = q d. Even bytes are sign-extended in
/// place by shifting left then arithmetically right, odd bytes by shifting right.
enum Q8_0Blocks: Int8WeightBlocks {
    static var blockBytes: Int { 34 }
    static var hasMinimum: Bool { false }
    static var isLaneScaled: Bool { false }
    @inline(__always)
    static func unpack(_ block: UnsafeRawPointer, _ masks: Kernels.NibbleMasks) -> (Kernels.I16, Kernels.I16) {
        let w = block.loadUnaligned(fromByteOffset: 2, as: Kernels.I16.self)
        return ((w &<< 8) &>> 8, w &>> 8)
    }
    @inline(__always) static func scale(_ block: UnsafeRawPointer) -> Float { Kernels.half(block, 0) }
    @inline(__always) static func minimum(_ block: UnsafeRawPointer) -> Float { 0 }
}
