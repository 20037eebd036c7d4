import X86Instructions

/// The packed panels' (`PackedPanelLayout`) blocks for `PanelKernel`.
///
/// Bounds of the 16-bit sums, activations q_x in [-127, 127]: 5-bit values
/// (0...31) give pairs of at most 2 x 31 x 127 = 7874, so four groups sum to
/// 31496 and each half of a block is widened on its own; Q6_K's weights,
/// q - 32 in [-32, 31], go in as magnitude and sign (as Q8_0's), pairs of at
/// most 2 x 32 x 127 = 8128 and four groups 32512; Q4_K's nibbles sum all
/// eight groups as Q4_0's do (30480); Q2_K's 2-bit values four groups of
/// pairs of at most 2 x 3 x 127 (3048). All below 32768.

/// Bytes as 16-bit lanes: bitwise operations on byte vectors were scalarised.
@inline(__always) private func words(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD16<UInt16> {
    p.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt16>.self)
}

@inline(__always) private func bytes(_ w: SIMD16<UInt16>) -> SIMD32<UInt8> { unsafeBitCast(w, to: SIMD32<UInt8>.self) }

/// 32 x 8 values of 5 bits: nibble groups with the fifth-bit plane's bit k
/// shifted up to bit 4 of group k.
struct FiveBitGroups {
    var g0, g1, g2, g3, g4, g5, g6, g7: SIMD32<UInt8>

    @inline(__always)
    init(_ values: UnsafeRawPointer, _ mask: SIMD16<UInt16>) {
        let p0 = words(values, 0), p1 = words(values, 32), p2 = words(values, 64), p3 = words(values, 96)
        let h = words(values, 128), bit = SIMD16<UInt16>(repeating: 0x1010)
        g0 = bytes((p0 & mask) | ((h &<< 4) & bit)); g1 = bytes((p1 & mask) | ((h &<< 3) & bit))
        g2 = bytes((p2 & mask) | ((h &<< 2) & bit)); g3 = bytes((p3 & mask) | ((h &<< 1) & bit))
        g4 = bytes(((p0 &>> 4) & mask) | (h & bit)); g5 = bytes(((p1 &>> 4) & mask) | ((h &>> 1) & bit))
        g6 = bytes(((p2 &>> 4) & mask) | ((h &>> 2) & bit)); g7 = bytes(((p3 &>> 4) & mask) | ((h &>> 3) & bit))
    }

    /// sum of q_w q_x per row, each half of the block summed in 16 bits.
    @inline(__always)
    func dot(_ x: UnsafePointer<Int8>) -> SIMD8<Int32> {
        let (low, high) = halfDots(g0, g1, g2, g3, g4, g5, g6, g7, x)
        return low &+ high
    }
}

/// Eight rows' sums of unsigned weights times activations over columns
/// 0-15 (groups g0-g3) and 16-31 (g4-g7), each summed in 16 bits and then
/// widened.
@inline(__always)
private func halfDots(_ g0: SIMD32<UInt8>, _ g1: SIMD32<UInt8>, _ g2: SIMD32<UInt8>, _ g3: SIMD32<UInt8>,
                      _ g4: SIMD32<UInt8>, _ g5: SIMD32<UInt8>, _ g6: SIMD32<UInt8>, _ g7: SIMD32<UInt8>,
                      _ x: UnsafePointer<Int8>) -> (SIMD8<Int32>, SIMD8<Int32>) {
    typealias K = PanelKernel
    var low = kv_multiply_add_bytes(g0, K.broadcast(x, group: 0))
    low &+= kv_multiply_add_bytes(g1, K.broadcast(x, group: 1))
    low &+= kv_multiply_add_bytes(g2, K.broadcast(x, group: 2))
    low &+= kv_multiply_add_bytes(g3, K.broadcast(x, group: 3))
    var high = kv_multiply_add_bytes(g4, K.broadcast(x, group: 4))
    high &+= kv_multiply_add_bytes(g5, K.broadcast(x, group: 5))
    high &+= kv_multiply_add_bytes(g6, K.broadcast(x, group: 6))
    high &+= kv_multiply_add_bytes(g7, K.broadcast(x, group: 7))
    return (kv_multiply_add_words(low, K.ones), kv_multiply_add_words(high, K.ones))
}

/// 32 x 8 Q6_K weights q - 32, as signed bytes.
struct SixBitGroups {
    var g0, g1, g2, g3, g4, g5, g6, g7: SIMD32<Int8>

    @inline(__always)
    init(_ values: UnsafeRawPointer, _ mask: SIMD16<UInt16>) {
        let p0 = words(values, 0), p1 = words(values, 32), p2 = words(values, 64), p3 = words(values, 96)
        let t0 = words(values, 128), t1 = words(values, 160), bits = SIMD16<UInt16>(repeating: 0x3030)
        @inline(__always) func signed(_ w: SIMD16<UInt16>) -> SIMD32<Int8> {
            unsafeBitCast(w, to: SIMD32<Int8>.self) &- SIMD32(repeating: 32)
        }
        g0 = signed((p0 & mask) | ((t0 &<< 4) & bits)); g1 = signed((p1 & mask) | ((t0 &<< 2) & bits))
        g2 = signed((p2 & mask) | (t0 & bits)); g3 = signed((p3 & mask) | ((t0 &>> 2) & bits))
        g4 = signed(((p0 &>> 4) & mask) | ((t1 &<< 4) & bits)); g5 = signed(((p1 &>> 4) & mask) | ((t1 &<< 2) & bits))
        g6 = signed(((p2 &>> 4) & mask) | (t1 & bits)); g7 = signed(((p3 &>> 4) & mask) | ((t1 &>> 2) & bits))
    }

    /// Columns 0-15 and 16-31: sum of w q_x per row.
    @inline(__always)
    func dots(_ x: UnsafePointer<Int8>) -> (SIMD8<Int32>, SIMD8<Int32>) {
        typealias K = PanelKernel
        @inline(__always) func group(_ w: SIMD32<Int8>, _ k: Int) -> SIMD16<Int16> {
            kv_multiply_add_bytes(unsafeBitCast(kv_sign_bytes(w, w), to: SIMD32<UInt8>.self), kv_sign_bytes(K.broadcast(x, group: k), w))
        }
        let low = group(g0, 0) &+ group(g1, 1) &+ group(g2, 2) &+ group(g3, 3)
        let high = group(g4, 4) &+ group(g5, 5) &+ group(g6, 6) &+ group(g7, 7)
        return (kv_multiply_add_words(low, K.ones), kv_multiply_add_words(high, K.ones))
    }
}

/// Q5_0 weights are q - 16: the dot of q, less 16 times the activations' sum.
enum Q5_0Panel: SingleBlockPanel {
    static var blockBytes: Int { PanelFormat.q5_0.blockBytes }
    static var hasMinimum: Bool { false }
    @inline(__always)
    static func weights(_ block: UnsafeRawPointer, _ mask: SIMD16<UInt16>) -> FiveBitGroups { FiveBitGroups(block + 16, mask) }
    @inline(__always)
    static func integerDot(_ w: FiveBitGroups, _ x: UnsafePointer<Int8>, _ n: Int32) -> SIMD8<Int32> {
        w.dot(x) &- SIMD8(repeating: n &<< 4)
    }
}

enum Q5_1Panel: SingleBlockPanel {
    static var blockBytes: Int { PanelFormat.q5_1.blockBytes }
    static var hasMinimum: Bool { true }
    @inline(__always)
    static func weights(_ block: UnsafeRawPointer, _ mask: SIMD16<UInt16>) -> FiveBitGroups { FiveBitGroups(block + 32, mask) }
    @inline(__always)
    static func integerDot(_ w: FiveBitGroups, _ x: UnsafePointer<Int8>, _ n: Int32) -> SIMD8<Int32> { w.dot(x) }
}

/// K-quant panels: block b is sub-block b % 8 of super-block b / 8.
protocol SuperBlockPanel: PanelBlocks {
    static var layout: PackedPanelLayout { get }
}

extension SuperBlockPanel {
    @inline(__always) static func panelBytes(blocks: Int) -> Int { blocks / 8 * layout.blockBytes }
    @inline(__always) static var bytesPerBlock: Int { layout.blockBytes / 8 }

    @inline(__always)
    static func header(_ panel: UnsafeRawPointer, _ b: Int) -> UnsafeRawPointer { panel + (b >> 3) * layout.blockBytes }

    @inline(__always)
    static func subBlock(_ panel: UnsafeRawPointer, _ b: Int) -> UnsafeRawPointer {
        header(panel, b) + layout.headerBytes + (b & 7) * layout.subBlockBytes
    }
}

/// Q4_K and Q5_K rows' d sc and dmin m of one sub-block (exact in float:
/// 11-bit d times 6-bit sc).
struct KScales {
    var scale: SIMD8<Float>
    var minimum: SIMD8<Float>

    @inline(__always)
    init<F: SuperBlockPanel>(_: F.Type, _ panel: UnsafeRawPointer, block b: Int) {
        let header = F.header(panel, b), sub = F.subBlock(panel, b)
        scale = Kernels.halves(header) * Kernels.floats(sub.loadUnaligned(as: SIMD8<UInt8>.self))
        minimum = Kernels.halves(header + 16) * Kernels.floats(sub.loadUnaligned(fromByteOffset: 8, as: SIMD8<UInt8>.self))
    }

    /// acc + float(dot) (d sc d_x) - dmin m (d_x n_x): the minimum's term
    /// uses the exact integer sum of the activations.
    @inline(__always)
    func accumulate(_ acc: inout SIMD8<Float>, _ dot: SIMD8<Int32>, dx: Float, n: Int32) {
        acc = acc.addingProduct(Kernels.floats(dot), scale * SIMD8(repeating: dx))
        acc = acc.addingProduct(minimum, SIMD8(repeating: -(dx * Float(n))))
    }
}

/// Q4_K and Q5_K: unsigned values, a scale and a minimum per sub-block.
protocol ScaleAndMinimumPanel: SuperBlockPanel where Scales == KScales {}

extension ScaleAndMinimumPanel {
    @inline(__always)
    static func scales(_ panel: UnsafeRawPointer, block b: Int) -> KScales { KScales(Self.self, panel, block: b) }
    @inline(__always)
    static func accumulate(_ acc: inout SIMD8<Float>, _ dot: SIMD8<Int32>, _ s: KScales, dx: Float, sx: Float, n: Int32) {
        s.accumulate(&acc, dot, dx: dx, n: n)
    }
}

enum Q4KPanel: ScaleAndMinimumPanel {
    static var layout: PackedPanelLayout { PanelFormat.q4_K.packed }
    @inline(__always)
    static func weights(_ panel: UnsafeRawPointer, block b: Int, _ mask: SIMD16<UInt16>) -> NibbleGroups {
        NibbleGroups(subBlock(panel, b) + 16, mask)
    }
    @inline(__always)
    static func integerDot(_ w: NibbleGroups, _ x: UnsafePointer<Int8>, _ n: Int32) -> SIMD8<Int32> { w.dot(x) }
}

enum Q5KPanel: ScaleAndMinimumPanel {
    static var layout: PackedPanelLayout { PanelFormat.q5_K.packed }
    @inline(__always)
    static func weights(_ panel: UnsafeRawPointer, block b: Int, _ mask: SIMD16<UInt16>) -> FiveBitGroups {
        FiveBitGroups(subBlock(panel, b) + 16, mask)
    }
    @inline(__always)
    static func integerDot(_ w: FiveBitGroups, _ x: UnsafePointer<Int8>, _ n: Int32) -> SIMD8<Int32> { w.dot(x) }
}

/// Q6_K: the two halves' dots times their int8 scales, summed in integers
/// (|sum| <= 2 x 16 x 32 x 127 x 128 < 2^24, exact in float too), then
/// times d d_x.
enum Q6KPanel: SuperBlockPanel {
    static var layout: PackedPanelLayout { PanelFormat.q6_K.packed }

    struct Weights {
        var values: SixBitGroups
        var lowScale, highScale: SIMD8<Int32>
    }

    @inline(__always)
    static func weights(_ panel: UnsafeRawPointer, block b: Int, _ mask: SIMD16<UInt16>) -> Weights {
        let sub = subBlock(panel, b)
        return Weights(values: SixBitGroups(sub + 16, mask),
                       lowScale: SIMD8(truncatingIfNeeded: sub.loadUnaligned(as: SIMD8<Int8>.self)),
                       highScale: SIMD8(truncatingIfNeeded: sub.loadUnaligned(fromByteOffset: 8, as: SIMD8<Int8>.self)))
    }

    @inline(__always)
    static func scales(_ panel: UnsafeRawPointer, block b: Int) -> SIMD8<Float> { Kernels.halves(header(panel, b)) }

    @inline(__always)
    static func integerDot(_ w: Weights, _ x: UnsafePointer<Int8>, _ n: Int32) -> SIMD8<Int32> {
        let (low, high) = w.values.dots(x)
        return w.lowScale &* low &+ w.highScale &* high
    }

    @inline(__always)
    static func accumulate(_ acc: inout SIMD8<Float>, _ dot: SIMD8<Int32>, _ d: SIMD8<Float>, dx: Float, sx: Float, n: Int32) {
        acc = acc.addingProduct(Kernels.floats(dot), d * SIMD8(repeating: dx))
    }
}

/// 32 x 8 Q2_K values (0...3): two 2-bit planes, for columns 0-15 and
/// 16-31, whose bit pair k lines up group k of that half when shifted down.
struct TwoBitGroups {
    var g0, g1, g2, g3, g4, g5, g6, g7: SIMD32<UInt8>

    @inline(__always)
    init(_ values: UnsafeRawPointer) {
        let low = words(values, 0), high = words(values, 32), mask = SIMD16<UInt16>(repeating: 0x0303)
        g0 = bytes(low & mask); g1 = bytes((low &>> 2) & mask); g2 = bytes((low &>> 4) & mask); g3 = bytes((low &>> 6) & mask)
        g4 = bytes(high & mask); g5 = bytes((high &>> 2) & mask); g6 = bytes((high &>> 4) & mask); g7 = bytes((high &>> 6) & mask)
    }

    /// Columns 0-15 and 16-31: sum of q_w q_x per row.
    @inline(__always)
    func dots(_ x: UnsafePointer<Int8>) -> (SIMD8<Int32>, SIMD8<Int32>) { halfDots(g0, g1, g2, g3, g4, g5, g6, g7, x) }
}

/// Q2_K: per half of 32 columns, the dot times its 4-bit scale and the
/// half's activation sum times its 4-bit minimum, both summed in integers
/// (|sums| <= 2 x 15 x 16 x 3 x 127, exact in float), then
/// acc + float(scaled) (d d_x) + float(minimums) (-dmin d_x). The
/// activations' sum over columns 0-15 is counted here from their bytes;
/// columns 16-31 take the block's sum less it.
enum Q2KPanel: SuperBlockPanel {
    static var layout: PackedPanelLayout { PanelFormat.q2_K.packed }

    struct Weights {
        var values: TwoBitGroups
        var lowScale, highScale, lowMinimum, highMinimum: SIMD8<Int32>
    }

    @inline(__always)
    static func weights(_ panel: UnsafeRawPointer, block b: Int, _ mask: SIMD16<UInt16>) -> Weights {
        let sub = subBlock(panel, b)
        @inline(__always) func bytes(_ offset: Int) -> SIMD8<Int32> {
            SIMD8(truncatingIfNeeded: sub.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt8>.self))
        }
        return Weights(values: TwoBitGroups(sub + layout.scaleBytes), lowScale: bytes(0), highScale: bytes(8),
                       lowMinimum: bytes(16), highMinimum: bytes(24))
    }

    /// d and dmin of the eight rows.
    @inline(__always)
    static func scales(_ panel: UnsafeRawPointer, block b: Int) -> (SIMD8<Float>, SIMD8<Float>) {
        let header = header(panel, b)
        return (Kernels.halves(header), Kernels.halves(header + 16))
    }

    @inline(__always)
    static func integerDot(_ w: Weights, _ x: UnsafePointer<Int8>, _ n: Int32) -> (SIMD8<Int32>, SIMD8<Int32>) {
        let (low, high) = w.values.dots(x)
        let first = UnsafeRawPointer(x).loadUnaligned(as: SIMD16<Int8>.self)
        var lowSum: Int32 = 0
        for i in 0..<16 { lowSum &+= Int32(first[i]) }
        let minimums = w.lowMinimum &* SIMD8(repeating: lowSum) &+ w.highMinimum &* SIMD8(repeating: n &- lowSum)
        return (w.lowScale &* low &+ w.highScale &* high, minimums)
    }

    @inline(__always)
    static func accumulate(_ acc: inout SIMD8<Float>, _ dot: (SIMD8<Int32>, SIMD8<Int32>), _ s: (SIMD8<Float>, SIMD8<Float>),
                           dx: Float, sx: Float, n: Int32) {
        acc = acc.addingProduct(Kernels.floats(dot.0), s.0 * SIMD8(repeating: dx))
        acc = acc.addingProduct(Kernels.floats(dot.1), s.1 * SIMD8(repeating: -dx))
    }
}
