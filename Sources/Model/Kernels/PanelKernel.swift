import X86Instructions

/// Products of a panel-layout weight matrix (`PanelFormat`) with 8-bit
/// activation vectors (`Int8Activations`), for one token or many.
///
/// Per panel block and token, the eight rows' exact integer dot products
/// come from eight `vpmaddubsw` (unsigned 4-bit weights times signed 8-bit
/// activations, four columns of eight rows at a time), summed in 16 bits
/// (8 x 2 x 15 x 127 < 32768) and widened once by `vpmaddwd`. Then, lane by
/// lane, acc = acc + float(dot) * (d_w * d_x), and for Q4_1 acc = acc + m_w * s_x.
/// (The packed 5-bit and K-quant blocks are in PackedPanelKernels.swift.)
/// The integer part is exact and the float part is the same chain of
/// operations for every (row, token) whatever the tile it falls in, so one
/// token, a tile of four and any batch give bit-identical results.
///
/// Many tokens are multiplied in tiles of four: each weight block is loaded
/// and unpacked once per tile, then meets four tokens from registers.
public struct PanelKernel: Sendable {
    /// Quantized activation vectors, as `Int8Activations` holds them.
    struct Activations: @unchecked Sendable {
        let values: UnsafePointer<Int8>
        let scales: UnsafePointer<Float>
        let sums: UnsafePointer<Float>
        let integerSums: UnsafePointer<Int32>
        let columns: Int
    }

    nonisolated(unsafe) let data: UnsafeRawPointer
    let format: PanelFormat
    let rows: Int
    let columns: Int

    var panelCount: Int { PanelFormat.panelCount(rows: rows) }

    @inline(__always) static var lowNibbles: SIMD16<UInt16> { SIMD16(repeating: 0x0F0F) }

    /// Panels `panels` times `count` vectors: y[t * stride + row] for the
    /// panels' rows, or added to it when `accumulating` (a residual sum).
    func multiply(panels: Range<Int>, _ x: Activations, count: Int, into y: UnsafeMutablePointer<Float>, stride: Int,
                  accumulating: Bool = false) {
        // A literal `accumulating` per call, so each copy is specialised.
        @inline(__always) func run<F: PanelBlocks>(_: F.Type) {
            if accumulating {
                multiply(F.self, panels: panels, x, count: count, into: y, stride: stride, accumulating: true)
            } else {
                multiply(F.self, panels: panels, x, count: count, into: y, stride: stride, accumulating: false)
            }
        }
        switch format {
        case .q4_0: run(Q4_0Panel.self)
        case .q4_1: run(Q4_1Panel.self)
        case .q8_0: run(Q8_0Panel.self)
        case .q5_0: run(Q5_0Panel.self)
        case .q5_1: run(Q5_1Panel.self)
        case .q4_K: run(Q4KPanel.self)
        case .q5_K: run(Q5KPanel.self)
        case .q6_K, .q3_K: run(Q6KPanel.self)
        case .q2_K: run(Q2KPanel.self)
        }
    }

    @inline(__always)
    private func multiply<F: PanelBlocks>(_: F.Type, panels: Range<Int>, _ x: Activations, count: Int,
                                           into y: UnsafeMutablePointer<Float>, stride: Int, accumulating: Bool) {
        let blocks = columns / 32, mask = Self.lowNibbles
        for p in panels {
            let panel = data + p * F.panelBytes(blocks: blocks)
            let firstRow = p * PanelFormat.rows, live = min(PanelFormat.rows, rows - firstRow)
            @inline(__always) func store(_ r: SIMD8<Float>, _ t: Int) {
                let to = y + t * stride + firstRow
                if live == PanelFormat.rows {
                    let out = UnsafeMutableRawPointer(to)
                    let sum = accumulating ? out.loadUnaligned(as: SIMD8<Float>.self) + r : r
                    out.storeBytes(of: sum, as: SIMD8<Float>.self)
                } else {
                    for k in 0..<live { to[k] = accumulating ? to[k] + r[k] : r[k] }
                }
            }
            var t = 0
            while t + 4 <= count {
                let four = Self.tile4(F.self, panel, blocks: blocks, x, token: t, mask)
                store(four.0, t); store(four.1, t + 1); store(four.2, t + 2); store(four.3, t + 3)
                t += 4
            }
            while t < count {
                store(Self.tile1(F.self, panel, blocks: blocks, x, token: t, mask), t)
                t += 1
            }
        }
    }

    /// How far ahead of the block it multiplies a pass asks for the panel's
    /// bytes (every 64-byte line of the block that far on). A one-token pass
    /// is bound by how many lines are in flight, not by arithmetic, and the
    /// hardware prefetcher alone keeps too few in flight: asking this far
    /// ahead made one-token decode 10-20% faster (BENCHMARKS.md, issue 30;
    /// 2-3 KiB measured best, 1 KiB and 6 KiB less). A tile's first token
    /// asks; the others find the block already in cache.
    @inline(__always) static var prefetchDistance: Int { 3072 }

    /// Asks for the lines of the block `prefetchDistance` past block b.
    @inline(__always)
    static func prefetch<F: PanelBlocks>(_: F.Type, _ panel: UnsafeRawPointer, block b: Int) {
        let ahead = panel + b * F.bytesPerBlock + prefetchDistance
        var line = 0
        while line < F.bytesPerBlock { kv_prefetch(ahead + line); line += 64 }
    }

    /// One panel times one token.
    @inline(__always)
    static func tile1<F: PanelBlocks>(_: F.Type, _ panel: UnsafeRawPointer, blocks: Int, _ x: Activations,
                                      token t: Int, _ mask: SIMD16<UInt16>) -> SIMD8<Float> {
        var acc = SIMD8<Float>()
        let xt = x.values + t * x.columns, first = t * blocks
        for b in 0..<blocks {
            prefetch(F.self, panel, block: b)
            let w = F.weights(panel, block: b, mask), s = F.scales(panel, block: b)
            let i = first + b
            let dot = F.integerDot(w, xt + 32 * b, x.integerSums[i])
            F.accumulate(&acc, dot, s, dx: x.scales[i], sx: x.sums[i], n: x.integerSums[i])
        }
        return acc
    }

    /// One panel times tokens t..<t+4, each weight block unpacked once.
    @inline(__always)
    static func tile4<F: PanelBlocks>(_: F.Type, _ panel: UnsafeRawPointer, blocks: Int, _ x: Activations,
                                      token t: Int, _ mask: SIMD16<UInt16>)
        -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        var a0 = SIMD8<Float>(), a1 = a0, a2 = a0, a3 = a0
        let columns = x.columns
        for b in 0..<blocks {
            if t == 0 { prefetch(F.self, panel, block: b) }
            let w = F.weights(panel, block: b, mask), s = F.scales(panel, block: b)
            @inline(__always) func step(_ k: Int, _ acc: inout SIMD8<Float>) {
                let i = (t + k) * blocks + b
                let dot = F.integerDot(w, x.values + (t + k) * columns + 32 * b, x.integerSums[i])
                F.accumulate(&acc, dot, s, dx: x.scales[i], sx: x.sums[i], n: x.integerSums[i])
            }
            step(0, &a0); step(1, &a1); step(2, &a2); step(3, &a3)
        }
        return (a0, a1, a2, a3)
    }

    /// Four activation bytes (columns 4g..4g+3) in every 32-bit lane.
    @inline(__always)
    static func broadcast(_ x: UnsafePointer<Int8>, group g: Int) -> SIMD32<Int8> {
        let word = UnsafeRawPointer(x + 4 * g).loadUnaligned(as: UInt32.self)
        return unsafeBitCast(SIMD8<UInt32>(repeating: word), to: SIMD32<Int8>.self)
    }

    /// Sums adjacent 16-bit lanes in `vpmaddwd` (a literal: a stored
    /// constant costs a lazy-initialisation check per use).
    @inline(__always) static var ones: SIMD16<Int16> { SIMD16(repeating: 1) }
}

/// A panel format's blocks of 32 columns: how block b's weights and scales
/// load and meet one token.
protocol PanelBlocks {
    associatedtype Weights
    associatedtype Scales
    /// What `integerDot` hands `accumulate`: the eight rows' integer sums
    /// (two sets of them for Q2_K, its scales' and its minimums').
    associatedtype Dot = SIMD8<Int32>
    /// Bytes of one panel of `blocks` blocks.
    static func panelBytes(blocks: Int) -> Int
    /// A block's share of a panel's bytes (K-quants: of its super-block's).
    static var bytesPerBlock: Int { get }
    static func weights(_ panel: UnsafeRawPointer, block b: Int, _ mask: SIMD16<UInt16>) -> Weights
    static func scales(_ panel: UnsafeRawPointer, block b: Int) -> Scales
    /// The eight rows' exact sums of weight times activation over the block
    /// (`n`: the activations' sum, for formats with an offset).
    static func integerDot(_ w: Weights, _ x: UnsafePointer<Int8>, _ n: Int32) -> Dot
    /// The block's float chain, the same for every tile shape: `dx` the
    /// activations' scale, `sx` its f16 sum and `n` its integer sum.
    static func accumulate(_ acc: inout SIMD8<Float>, _ dot: Dot, _ s: Scales, dx: Float, sx: Float, n: Int32)
}

/// Formats whose panel blocks are 32 columns with f16 d[8] (and m[8]) first.
protocol SingleBlockPanel: PanelBlocks where Scales == (SIMD8<Float>, SIMD8<Float>) {
    static var blockBytes: Int { get }
    static var hasMinimum: Bool { get }
    static func weights(_ block: UnsafeRawPointer, _ mask: SIMD16<UInt16>) -> Weights
}

extension SingleBlockPanel {
    @inline(__always) static func panelBytes(blocks: Int) -> Int { blocks * blockBytes }
    @inline(__always) static var bytesPerBlock: Int { blockBytes }

    @inline(__always)
    static func weights(_ panel: UnsafeRawPointer, block b: Int, _ mask: SIMD16<UInt16>) -> Weights {
        weights(panel + b * blockBytes, mask)
    }

    @inline(__always)
    static func scales(_ panel: UnsafeRawPointer, block b: Int) -> (SIMD8<Float>, SIMD8<Float>) {
        let block = panel + b * blockBytes
        return (Kernels.halves(block), hasMinimum ? Kernels.halves(block + 16) : SIMD8())
    }

    /// acc + float(dot) * (d_w * d_x) (+ m_w * s_x).
    @inline(__always)
    static func accumulate(_ acc: inout SIMD8<Float>, _ dot: SIMD8<Int32>, _ s: (SIMD8<Float>, SIMD8<Float>),
                           dx: Float, sx: Float, n: Int32) {
        acc = acc.addingProduct(Kernels.floats(dot), s.0 * SIMD8(repeating: dx))
        if hasMinimum { acc = acc.addingProduct(s.1, SIMD8(repeating: sx)) }
    }
}

/// The 4-bit values of a panel block as eight groups of four columns of
/// eight rows, one byte per value.
struct NibbleGroups {
    var g0, g1, g2, g3, g4, g5, g6, g7: SIMD32<UInt8>

    /// Masks work on 16-bit lanes: on byte vectors the `&` was scalarised.
    @inline(__always)
    init(_ values: UnsafeRawPointer, _ mask: SIMD16<UInt16>) {
        @inline(__always) func load(_ j: Int) -> SIMD16<UInt16> { values.loadUnaligned(fromByteOffset: 32 * j, as: SIMD16<UInt16>.self) }
        @inline(__always) func bytes(_ w: SIMD16<UInt16>) -> SIMD32<UInt8> { unsafeBitCast(w, to: SIMD32<UInt8>.self) }
        let p0 = load(0), p1 = load(1), p2 = load(2), p3 = load(3)
        g0 = bytes(p0 & mask); g1 = bytes(p1 & mask); g2 = bytes(p2 & mask); g3 = bytes(p3 & mask)
        g4 = bytes((p0 &>> 4) & mask); g5 = bytes((p1 &>> 4) & mask); g6 = bytes((p2 &>> 4) & mask); g7 = bytes((p3 &>> 4) & mask)
    }

    /// sum over the block of q_w * q_x, eight rows; 16-bit partial sums are
    /// exact: |8 x (15 x 127 + 15 x 127)| = 30480 < 32768.
    @inline(__always)
    func dot(_ x: UnsafePointer<Int8>) -> SIMD8<Int32> {
        typealias K = PanelKernel
        var s = kv_multiply_add_bytes(g0, K.broadcast(x, group: 0))
        s &+= kv_multiply_add_bytes(g1, K.broadcast(x, group: 1))
        s &+= kv_multiply_add_bytes(g2, K.broadcast(x, group: 2))
        s &+= kv_multiply_add_bytes(g3, K.broadcast(x, group: 3))
        s &+= kv_multiply_add_bytes(g4, K.broadcast(x, group: 4))
        s &+= kv_multiply_add_bytes(g5, K.broadcast(x, group: 5))
        s &+= kv_multiply_add_bytes(g6, K.broadcast(x, group: 6))
        s &+= kv_multiply_add_bytes(g7, K.broadcast(x, group: 7))
        return kv_multiply_add_words(s, K.ones)
    }
}

enum Q4_1Panel: SingleBlockPanel {
    static var blockBytes: Int { PanelFormat.q4_1.blockBytes }
    static var hasMinimum: Bool { true }
    @inline(__always)
    static func weights(_ block: UnsafeRawPointer, _ mask: SIMD16<UInt16>) -> NibbleGroups { NibbleGroups(block + PanelFormat.q4_1.scaleBytes, mask) }
    @inline(__always)
    static func integerDot(_ w: NibbleGroups, _ x: UnsafePointer<Int8>, _ n: Int32) -> SIMD8<Int32> { w.dot(x) }
}

/// Q4_0 weights are q - 8: the dot of q, less 8 times the activations' sum.
enum Q4_0Panel: SingleBlockPanel {
    static var blockBytes: Int { PanelFormat.q4_0.blockBytes }
    static var hasMinimum: Bool { false }
    @inline(__always)
    static func weights(_ block: UnsafeRawPointer, _ mask: SIMD16<UInt16>) -> NibbleGroups { NibbleGroups(block + PanelFormat.q4_0.scaleBytes, mask) }
    @inline(__always)
    static func integerDot(_ w: NibbleGroups, _ x: UnsafePointer<Int8>, _ n: Int32) -> SIMD8<Int32> {
        w.dot(x) &- SIMD8(repeating: n &<< 3)
    }
}

/// Q8_0: signed weights, so each product is |w| times x with w's sign
/// (vpmaddubsw multiplies unsigned by signed); pairs reach 2 x 128 x 127,
/// so every 16-bit result is widened at once.
enum Q8_0Panel: SingleBlockPanel {
    static var blockBytes: Int { PanelFormat.q8_0.blockBytes }
    static var hasMinimum: Bool { false }

    struct Groups { var g: (SIMD32<Int8>, SIMD32<Int8>, SIMD32<Int8>, SIMD32<Int8>, SIMD32<Int8>, SIMD32<Int8>, SIMD32<Int8>, SIMD32<Int8>) }

    @inline(__always)
    static func weights(_ block: UnsafeRawPointer, _ mask: SIMD16<UInt16>) -> Groups {
        @inline(__always) func load(_ k: Int) -> SIMD32<Int8> { block.loadUnaligned(fromByteOffset: PanelFormat.q8_0.scaleBytes + 32 * k, as: SIMD32<Int8>.self) }
        return Groups(g: (load(0), load(1), load(2), load(3), load(4), load(5), load(6), load(7)))
    }

    @inline(__always)
    static func integerDot(_ w: Groups, _ x: UnsafePointer<Int8>, _ n: Int32) -> SIMD8<Int32> {
        typealias K = PanelKernel
        @inline(__always) func group(_ v: SIMD32<Int8>, _ k: Int) -> SIMD8<Int32> {
            let magnitude = unsafeBitCast(kv_sign_bytes(v, v), to: SIMD32<UInt8>.self)
            return kv_multiply_add_words(kv_multiply_add_bytes(magnitude, kv_sign_bytes(K.broadcast(x, group: k), v)), K.ones)
        }
        var s = group(w.g.0, 0)
        s &+= group(w.g.1, 1)
        s &+= group(w.g.2, 2)
        s &+= group(w.g.3, 3)
        s &+= group(w.g.4, 4)
        s &+= group(w.g.5, 5)
        s &+= group(w.g.6, 6)
        s &+= group(w.g.7, 7)
        return s
    }
}
