import Foundation
import Synchronization

/// Scaled dot-product attention of every token of a step over the cached
/// keys and values of its sequence, read through block tables.
///
/// Each token's positions 0...p are cut into fixed chunks of 64 positions.
/// For each (token, KV head, chunk) a partial softmax is computed: the
/// chunk's maximum score, its sum of exponentials and its weighted sum of
/// values, for all the query heads that share the KV head. The chunks of
/// each (token, head) are merged in chunk order by whichever thread finishes
/// the last of them, inside the same pool job (no second hand-over). A partial depends
/// only on the token's query and position, never on the batch or the thread
/// that ran it, so results are bit-identical however tokens are batched; and
/// a single decoding token still spreads over every worker at long context.
///
/// A prompt's consecutive tokens share their chunks: a work item is a tile
/// of up to four consecutive tokens of one sequence whose last chunk is the
/// same, one KV head and one chunk. On a chunk that all of them see whole,
/// the tile's 4 x group query rows are scored against each loaded key in
/// passes of four rows, and the values weighted likewise, so each key and
/// value is converted once for the tile instead of once per token. Every
/// row's arithmetic is the single token's, in the same order. The chunk on
/// the diagonal, which each token sees to a different length, is done token
/// by token.
///
/// A sliding-window layer (Gemma's local layers) lets a token see only its
/// last `window` positions: chunks wholly before them get no item, and the
/// positions of a chunk before the first visible one get zero weight. The
/// chunks stay where they are (multiples of 64), so a token's partials
/// still depend on nothing but its own position.
struct PagedAttention {
    static let chunkLength = 64

    let heads: Int
    let kvHeads: Int
    let headDimension: Int
    var groupSize: Int { heads / kvHeads }

    /// The tokens of one forward step: token t is at `positions[t]` in the
    /// sequence whose block table starts at `tables[tableStart[t]]`. Its work
    /// items and the buffer of partial results depend only on these, so they
    /// are made once per step and serve every layer.
    final class Step {
        let positions: [Int]
        /// The first position token t sees (0 without a window).
        let firstVisible: [Int]
        let tableStart: [Int]
        let tables: [Int32]
        fileprivate let items: [Item]
        /// Token t's partials start at slot firstSlot[t] and run KV head by
        /// KV head, chunk by chunk.
        fileprivate let firstSlot: [Int]
        /// Per slot and head of its group: maximum, sum, then the weighted
        /// values. Every run writes all of it before reading it.
        fileprivate let partials: UnsafeMutableBufferPointer<Float>
        /// Per (tile, KV head): its items, and how many of them are still to
        /// run in the current layer; the item that brings it to zero merges.
        fileprivate let itemsPerGroup: [Int]
        fileprivate let unfinished: [Countdown]

        fileprivate init(positions: [Int], tableStart: [Int], tables: [Int32], window: Int?, kvHeads: Int, partialsPerSlot: Int) {
            self.positions = positions
            let firstVisible = positions.map { p in window.map { max(0, p - $0 + 1) } ?? 0 }
            self.firstVisible = firstVisible
            self.tableStart = tableStart
            self.tables = tables
            var firstSlot: [Int] = [], slots = 0
            for position in positions {
                firstSlot.append(slots)
                slots += kvHeads * (position / PagedAttention.chunkLength + 1)
            }
            var items: [Item] = [], itemsPerGroup: [Int] = []
            var t = 0
            while t < positions.count {
                // A tile: consecutive positions of one sequence, one last chunk.
                let lastChunk = positions[t] / PagedAttention.chunkLength
                var count = 1
                while count < PagedAttention.tileTokens, t + count < positions.count,
                      tableStart[t + count] == tableStart[t], positions[t + count] == positions[t] + count,
                      positions[t + count] / PagedAttention.chunkLength == lastChunk { count += 1 }
                // The tile's first token sees the earliest position.
                let firstChunk = firstVisible[t] / PagedAttention.chunkLength
                for g in 0..<kvHeads {
                    for c in firstChunk...lastChunk {
                        items.append(Item(token: Int32(t), count: Int32(count), kvHead: Int32(g), chunk: Int32(c),
                                          group: Int32(itemsPerGroup.count)))
                    }
                    itemsPerGroup.append(lastChunk - firstChunk + 1)
                }
                t += count
            }
            self.items = items
            self.itemsPerGroup = itemsPerGroup
            unfinished = itemsPerGroup.map { _ in Countdown() }
            self.firstSlot = firstSlot
            partials = .allocate(capacity: slots * partialsPerSlot)
        }

        deinit { partials.deallocate() }
    }

    /// Tokens `token..<token + count`, one KV head, one chunk; `group`
    /// numbers the (tile, KV head) it belongs to.
    fileprivate struct Item {
        var token: Int32, count: Int32, kvHead: Int32, chunk: Int32, group: Int32
    }

    /// Tokens per tile: 4 x a group of 3 query heads is three passes of four rows.
    static let tileTokens = 4

    /// The step's items for layers that see the last `window` positions (nil: all).
    func step(positions: [Int], tableStart: [Int], tables: [Int32], window: Int? = nil) -> Step {
        Step(positions: positions, tableStart: tableStart, tables: tables, window: window, kvHeads: kvHeads,
             partialsPerSlot: groupSize * (headDimension + 2))
    }

    /// output[t] = attention of queries[t] (already rotated); both `count * heads * headDimension`.
    func run(queries: UnsafePointer<Float>, step: Step, layer: Int, cache: KVArena,
             output: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let group = groupSize, hd = headDimension
        let partialStride = hd + 2
        let next = WorkCounter()
        let firstSlot = step.firstSlot, partial = step.partials, unfinished = step.unfinished
        let firstVisible = step.firstVisible
        for (countdown, items) in zip(unfinished, step.itemsPerGroup) { countdown.reset(to: items) }
        step.items.withUnsafeBufferPointer { itemList in
        step.positions.withUnsafeBufferPointer { positions in
        step.tableStart.withUnsafeBufferPointer { tableStart in
        step.tables.withUnsafeBufferPointer { tables in
            let width = heads * hd
            /// Token t's partial for KV head g, chunk c, head h of the group.
            @inline(__always) func partialRow(_ t: Int, _ g: Int, _ c: Int, _ h: Int) -> UnsafeMutablePointer<Float> {
                let chunks = positions[t] / Self.chunkLength + 1
                return partial.baseAddress! + ((firstSlot[t] + g * chunks + c) * group + h) * partialStride
            }
            /// Token t's output for the heads of KV head g: its chunks merged in order.
            func merge(_ t: Int, _ g: Int) {
                let chunks = (firstVisible[t] / Self.chunkLength)..<(positions[t] / Self.chunkLength + 1)
                for h in 0..<group {
                    func part(_ c: Int) -> UnsafeMutablePointer<Float> { partialRow(t, g, c, h) }
                    var m = -Float.infinity
                    for c in chunks { m = max(m, part(c)[0]) }
                    var total: Float = 0
                    let o = output + t * width + (g * group + h) * hd
                    for i in 0..<hd { o[i] = 0 }
                    for c in chunks {
                        let p = part(c), weight = expf(p[0] - m)
                        total += weight * p[1]
                        for i in 0..<hd { o[i] += weight * p[2 + i] }
                    }
                    let inverse = 1 / total
                    for i in 0..<hd { o[i] *= inverse }
                }
            }
            pool.run { _, _ in
                withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: Self.tileTokens * group) { queryRows in
                withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: Self.tileTokens * group) { outRows in
                    while true {
                        let i = next.take()
                        guard i < itemList.count else { break }
                        let item = itemList[i]
                        let first = Int(item.token), g = Int(item.kvHead), c = Int(item.chunk)
                        let start = c * Self.chunkLength
                        let table = tables.baseAddress! + tableStart[first]
                        /// Rows of tokens `tokens` for this KV head and chunk, all seeing positions lower..<end.
                        func attend(_ tokens: Range<Int>, lower: Int, end: Int) {
                            for (k, t) in tokens.enumerated() {
                                for h in 0..<group {
                                    queryRows[k * group + h] = queries + t * width + (g * group + h) * hd
                                    outRows[k * group + h] = partialRow(t, g, c, h)
                                }
                            }
                            let rows = tokens.count * group
                            switch cache.elementType {
                            case .f16: attendChunk(Float16.self, queryRows.baseAddress!, outRows.baseAddress!, rows, table, start, lower, end, layer, g, cache)
                            case .f32: attendChunk(Float.self, queryRows.baseAddress!, outRows.baseAddress!, rows, table, start, lower, end, layer, g, cache)
                            case .q8_0: attendChunk(Int8.self, queryRows.baseAddress!, outRows.baseAddress!, rows, table, start, lower, end, layer, g, cache)
                            }
                        }
                        let tokens = first..<(first + Int(item.count))
                        let end = start + Self.chunkLength
                        if end <= positions[first] + 1 && start >= firstVisible[tokens.upperBound - 1] {
                            attend(tokens, lower: start, end: end)
                        } else {
                            // The diagonal chunk, or the window's edge: each token sees
                            // its own part of the chunk (maybe none of it).
                            for t in tokens {
                                let lower = max(start, firstVisible[t]), upper = min(end, positions[t] + 1)
                                if lower < upper { attend(t..<(t + 1), lower: lower, end: upper) }
                            }
                        }
                        if unfinished[Int(item.group)].finishOne() {
                            for t in tokens { merge(t, g) }
                        }
                    }
                }}
            }
        }}}}
    }

    /// One chunk [start, end) of one KV head for `rows` query rows (the
    /// group's heads of one token or of a tile of tokens): row r's query is
    /// queryRows[r]; its maximum score, sum of e^(score - max) and sum of
    /// e^(score - max) * v go to outRows[r][0], [1] and [2...]. Positions
    /// before `lower` (a window's edge) weigh nothing. q8_0 (E = Int8) is
    /// read in place: its bytes widen to floats 8 at a time like f16's
    /// halves, and its scales apply per 32-dimension group (`KVQuantizer`).
    @inline(__always)
    private func attendChunk<E: KVScalar>(_: E.Type, _ queryRows: UnsafePointer<UnsafePointer<Float>>,
                                          _ outRows: UnsafePointer<UnsafeMutablePointer<Float>>, _ rows: Int,
                                          _ table: UnsafePointer<Int32>, _ start: Int, _ lower: Int, _ end: Int, _ layer: Int,
                                          _ kvHead: Int, _ cache: KVArena) {
        let hd = headDimension, blockSize = cache.blockSize, scaleOffset = cache.scaleOffset
        let scale = 1 / Float(hd).squareRoot()
        let n = end - start, hidden = lower - start
        let padded = Self.chunkLength + 8
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rows * padded) { scoreBuffer in
            let scores = scoreBuffer.baseAddress!
            // Scores, 8 positions per step: the chunk starts on a multiple of 8
            // and blocks hold multiples of 8, so a group never straddles blocks.
            var p = start
            while p < end {
                let block = table[p / blockSize], slot = p % blockSize
                let head = cache.vectors(block: block, layer: layer, value: false, head: kvHead)
                let keys = head.assumingMemoryBound(to: E.self) + slot
                // q8_0's [group][slot] scales of these 8 slots (unused otherwise).
                let keyScales = UnsafePointer((head + scaleOffset).assumingMemoryBound(to: Float16.self) + slot)
                let column = p - start
                var r = 0
                while r < rows {
                    let count = min(4, rows - r)
                    let q = queryRows + r, out = scores + r * padded + column
                    switch count {
                    case 1: scoreEight(OneHead.self, keys, keyScales, blockSize, q, hd, out, padded, scale)
                    case 2: scoreEight(TwoHeads.self, keys, keyScales, blockSize, q, hd, out, padded, scale)
                    case 3: scoreEight(ThreeHeads.self, keys, keyScales, blockSize, q, hd, out, padded, scale)
                    default: scoreEight(FourHeads.self, keys, keyScales, blockSize, q, hd, out, padded, scale)
                    }
                    r += count
                }
                p += 8
            }
            // Exponentials relative to each row's maximum.
            for r in 0..<rows {
                let s = scores + r * padded
                let m = Kernels.maximum(s + hidden, count: n - hidden)
                var sum: Float = 0
                var j = 0
                while j < n {
                    var e = Kernels.exp(Kernels.load8(s + j) - Kernels.V8(repeating: m))
                    if j &+ 8 > n || j < hidden {
                        for lane in 0..<8 where j + lane >= n || j + lane < hidden { e[lane] = 0 }
                    }
                    UnsafeMutableRawPointer(s + j).storeBytes(of: e, as: Kernels.V8.self)
                    sum += Kernels.horizontalSum(e)
                    j += 8
                }
                outRows[r][0] = m
                outRows[r][1] = sum
            }
            // Weighted values, 8 dimensions at a time for up to 4 rows.
            let groups = hd / KVQuantizer.groupSize
            withUnsafeTemporaryAllocation(of: UnsafePointer<E>.self, capacity: n) { valueRows in
            // q8_0: each position's group scales as floats, [position][group].
            withUnsafeTemporaryAllocation(of: Float.self, capacity: E.isQuantized ? n * groups : 0) { valueScales in
                for j in 0..<n {
                    let position = start + j
                    let head = cache.vectors(block: table[position / blockSize], layer: layer, value: true, head: kvHead)
                    valueRows[j] = UnsafePointer(head.assumingMemoryBound(to: E.self) + (position % blockSize) * hd)
                    if E.isQuantized {
                        let scales = (head + scaleOffset).assumingMemoryBound(to: Float16.self) + (position % blockSize) * groups
                        for g in 0..<groups { valueScales[j * groups + g] = Float(scales[g]) }
                    }
                }
                for d in stride(from: 0, to: hd, by: 8) {
                    var r = 0
                    while r < rows {
                        let count = min(4, rows - r)
                        let weights = scores + r * padded, out = outRows + r
                        switch count {
                        case 1: weightValues(OneHead.self, valueRows, valueScales, n, d, weights, padded, out)
                        case 2: weightValues(TwoHeads.self, valueRows, valueScales, n, d, weights, padded, out)
                        case 3: weightValues(ThreeHeads.self, valueRows, valueScales, n, d, weights, padded, out)
                        default: weightValues(FourHeads.self, valueRows, valueScales, n, d, weights, padded, out)
                        }
                        r += count
                    }
                }
            }}
        }
    }

    /// Scores of `H.count` (at most 4) query rows against 8 consecutive keys
    /// of a block (keys stored [dimension][slot] with row stride `blockSize`).
    /// The row count is a type so that each count compiles to its own loop
    /// with no per-iteration tests. q8_0 keys: `keyScales` are the 8 slots'
    /// scales of dimension group 0, the next group's `blockSize` further on.
    @inline(__always)
    private func scoreEight<H: HeadCount, E: KVScalar>(_: H.Type, _ keys: UnsafePointer<E>, _ keyScales: UnsafePointer<Float16>,
                                                       _ blockSize: Int,
                                                       _ queries: UnsafePointer<UnsafePointer<Float>>, _ hd: Int,
                                                       _ out: UnsafeMutablePointer<Float>, _ headStride: Int, _ scale: Float) {
        // Even and odd dimensions accumulate apart: a single chain of
        // dependent FMAs per head would wait out the FMA latency at each step.
        var a0 = Kernels.V8(), a1 = Kernels.V8(), a2 = Kernels.V8(), a3 = Kernels.V8()
        var b0 = Kernels.V8(), b1 = Kernels.V8(), b2 = Kernels.V8(), b3 = Kernels.V8()
        let q0 = queries[0], q1 = H.count > 1 ? queries[1] : q0, q2 = H.count > 2 ? queries[2] : q0, q3 = H.count > 3 ? queries[3] : q0
        /// Dimensions d..<end into the a and b sums.
        @inline(__always) func accumulate(from d: Int, to end: Int) {
            var d = d
            while d < end {
                let k = E.load8(keys + d &* blockSize), l = E.load8(keys + (d &+ 1) &* blockSize)
                a0 = a0.addingProduct(Kernels.V8(repeating: q0[d]), k)
                b0 = b0.addingProduct(Kernels.V8(repeating: q0[d + 1]), l)
                if H.count > 1 {
                    a1 = a1.addingProduct(Kernels.V8(repeating: q1[d]), k)
                    b1 = b1.addingProduct(Kernels.V8(repeating: q1[d + 1]), l)
                }
                if H.count > 2 {
                    a2 = a2.addingProduct(Kernels.V8(repeating: q2[d]), k)
                    b2 = b2.addingProduct(Kernels.V8(repeating: q2[d + 1]), l)
                }
                if H.count > 3 {
                    a3 = a3.addingProduct(Kernels.V8(repeating: q3[d]), k)
                    b3 = b3.addingProduct(Kernels.V8(repeating: q3[d + 1]), l)
                }
                d &+= 2
            }
        }
        if E.isQuantized {
            // Each group's sum of q·k over its bytes, times its 8 scales.
            var t0 = Kernels.V8(), t1 = Kernels.V8(), t2 = Kernels.V8(), t3 = Kernels.V8()
            for group in stride(from: 0, to: hd, by: KVQuantizer.groupSize) {
                a0 = Kernels.V8(); a1 = a0; a2 = a0; a3 = a0; b0 = a0; b1 = a0; b2 = a0; b3 = a0
                accumulate(from: group, to: group &+ KVQuantizer.groupSize)
                let s = Kernels.halves(keyScales + (group / KVQuantizer.groupSize) &* blockSize)
                t0 = t0.addingProduct(a0 + b0, s)
                if H.count > 1 { t1 = t1.addingProduct(a1 + b1, s) }
                if H.count > 2 { t2 = t2.addingProduct(a2 + b2, s) }
                if H.count > 3 { t3 = t3.addingProduct(a3 + b3, s) }
            }
            a0 = t0; a1 = t1; a2 = t2; a3 = t3
        } else {
            accumulate(from: 0, to: hd)
            a0 += b0; a1 += b1; a2 += b2; a3 += b3
        }
        let s = Kernels.V8(repeating: scale)
        UnsafeMutableRawPointer(out).storeBytes(of: a0 * s, as: Kernels.V8.self)
        if H.count > 1 { UnsafeMutableRawPointer(out + headStride).storeBytes(of: a1 * s, as: Kernels.V8.self) }
        if H.count > 2 { UnsafeMutableRawPointer(out + 2 * headStride).storeBytes(of: a2 * s, as: Kernels.V8.self) }
        if H.count > 3 { UnsafeMutableRawPointer(out + 3 * headStride).storeBytes(of: a3 * s, as: Kernels.V8.self) }
    }

    /// Dimensions d..<d+8 of sum_j weight[h][j] * value[j] for `H.count` rows,
    /// into outs[h][2 + d...]. q8_0 values are scaled by their position's
    /// group scale (`valueScales`, [position][group]) before they are weighted.
    @inline(__always)
    private func weightValues<H: HeadCount, E: KVScalar>(_: H.Type, _ valueRows: UnsafeMutableBufferPointer<UnsafePointer<E>>,
                                                         _ valueScales: UnsafeMutableBufferPointer<Float>,
                                                         _ n: Int, _ d: Int, _ weights: UnsafePointer<Float>, _ headStride: Int,
                                                         _ outs: UnsafePointer<UnsafeMutablePointer<Float>>) {
        // Even and odd positions accumulate apart, for the same reason.
        var a0 = Kernels.V8(), a1 = Kernels.V8(), a2 = Kernels.V8(), a3 = Kernels.V8()
        var b0 = Kernels.V8(), b1 = Kernels.V8(), b2 = Kernels.V8(), b3 = Kernels.V8()
        let groups = headDimension / KVQuantizer.groupSize, group = d / KVQuantizer.groupSize
        @inline(__always) func add(_ j: Int, _ c0: inout Kernels.V8, _ c1: inout Kernels.V8,
                                   _ c2: inout Kernels.V8, _ c3: inout Kernels.V8) {
            var v = E.load8(valueRows[j] + d)
            if E.isQuantized { v *= Kernels.V8(repeating: valueScales[j &* groups &+ group]) }
            let w = weights + j
            c0 = c0.addingProduct(Kernels.V8(repeating: w[0]), v)
            if H.count > 1 { c1 = c1.addingProduct(Kernels.V8(repeating: w[headStride]), v) }
            if H.count > 2 { c2 = c2.addingProduct(Kernels.V8(repeating: w[2 * headStride]), v) }
            if H.count > 3 { c3 = c3.addingProduct(Kernels.V8(repeating: w[3 * headStride]), v) }
        }
        var j = 0
        while j + 2 <= n {
            add(j, &a0, &a1, &a2, &a3)
            add(j &+ 1, &b0, &b1, &b2, &b3)
            j &+= 2
        }
        if j < n { add(j, &a0, &a1, &a2, &a3) }
        a0 += b0; a1 += b1; a2 += b2; a3 += b3
        UnsafeMutableRawPointer(outs[0] + 2 + d).storeBytes(of: a0, as: Kernels.V8.self)
        if H.count > 1 { UnsafeMutableRawPointer(outs[1] + 2 + d).storeBytes(of: a1, as: Kernels.V8.self) }
        if H.count > 2 { UnsafeMutableRawPointer(outs[2] + 2 + d).storeBytes(of: a2, as: Kernels.V8.self) }
        if H.count > 3 { UnsafeMutableRawPointer(outs[3] + 2 + d).storeBytes(of: a3, as: Kernels.V8.self) }
    }
}

/// How many query heads one pass of the attention kernels handles, as a type.
protocol HeadCount { static var count: Int { get } }
enum OneHead: HeadCount { static var count: Int { 1 } }
enum TwoHeads: HeadCount { static var count: Int { 2 } }
enum ThreeHeads: HeadCount { static var count: Int { 3 } }
enum FourHeads: HeadCount { static var count: Int { 4 } }

/// A cached key or value element: 8 of them load as 8 floats.
protocol KVScalar {
    static func load8(_ p: UnsafePointer<Self>) -> Kernels.V8
    /// Whether the elements are q8_0 bytes whose per-group scales follow
    /// them in the block (a constant of the type, so each kernel compiles
    /// with or without the scaling and f16/f32 keep their own arithmetic).
    static var isQuantized: Bool { get }
}

extension Float16: KVScalar {
    @inline(__always)
    static func load8(_ p: UnsafePointer<Float16>) -> Kernels.V8 { Kernels.halves(UnsafeRawPointer(p)) }
    static var isQuantized: Bool { false }
}

extension Float: KVScalar {
    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> Kernels.V8 { Kernels.load8(p) }
    static var isQuantized: Bool { false }
}

/// q8_0's bytes (`KVQuantizer`).
extension Int8: KVScalar {
    @inline(__always)
    static func load8(_ p: UnsafePointer<Int8>) -> Kernels.V8 { Kernels.signedBytes(UnsafeRawPointer(p)) }
    static var isQuantized: Bool { true }
}

/// Hands out work item indices to the pool's workers, each exactly once.
/// Items of one group still to finish. The acquire-release decrements make
/// every finished item's partials visible to the thread that finishes last.
final class Countdown: Sendable {
    private let remaining = Atomic<Int>(0)

    func reset(to count: Int) { remaining.store(count, ordering: .relaxed) }

    /// Whether this was the last one.
    @inline(__always)
    func finishOne() -> Bool { remaining.subtract(1, ordering: .acquiringAndReleasing).oldValue == 1 }
}

final class WorkCounter: Sendable {
    private let next = Atomic<Int>(0)

    @inline(__always)
    func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}
