/// Activation vectors quantized to 8 bits in blocks of 32, the way llama.cpp
/// does before multiplying them with 4- and 8-bit weights (its Q8_1 / Q8_0):
/// d = max|x| / 127 rounded to f16, q = round-half-even(x * 127 / max|x|),
/// s = d * sum(q) rounded to f16. A weight block then costs one integer dot
/// product: sum((q_w d_w + m_w) q_x d_x) = d_w d_x sum(q_w q_x) + m_w s.
///
/// Quantizing is shared by every matrix that multiplies the same vector
/// (Q, K and V; gate and up): `prepare` does nothing until `invalidate`.
struct Int8Activations {
    let columns: Int
    /// `count * columns` values, vector after vector, in column order.
    private(set) var values: [Int8] = []
    /// Per block of 32: d, s, and sum(q) (the Q4_0 offset's term).
    private(set) var scales: [Float] = []
    private(set) var sums: [Float] = []
    private(set) var integerSums: [Int32] = []
    private var isCurrent = false

    init(columns: Int) {
        precondition(columns % 32 == 0)
        self.columns = columns
    }

    /// Forgets the current vectors: the next `prepare` quantizes again.
    mutating func invalidate() { isCurrent = false }

    /// Quantizes `count` vectors of `x` unless they are current; blocks are
    /// independent, so a step of many tokens spreads them over `pool`.
    mutating func prepare(_ x: UnsafePointer<Float>, count: Int, pool: WorkerPool? = nil) {
        guard !isCurrent else { return }
        let blocks = count * columns / 32, blocksPerVector = columns / 32
        fill(count: count) { writer in
            if let pool {
                pool.forEachShare(of: blocks, splittingFrom: 8 * blocksPerVector) { share in
                    for b in share { writer.quantize(block: b, of: x) }
                }
            } else {
                for b in 0..<blocks { writer.quantize(block: b, of: x) }
            }
        }
    }

    /// Room for `count` vectors, which `body` quantizes block by block
    /// (from any threads, each block once); they are current afterwards.
    /// Lets the job that computes a vector quantize it as it goes.
    mutating func fill(count: Int, _ body: (Writer) -> Void) {
        let blocks = count * columns / 32
        if values.count < count * columns {
            values = [Int8](repeating: 0, count: count * columns)
            scales = [Float](repeating: 0, count: blocks)
            sums = scales
            integerSums = [Int32](repeating: 0, count: blocks)
        }
        values.withUnsafeMutableBufferPointer { q in
        scales.withUnsafeMutableBufferPointer { d in
        sums.withUnsafeMutableBufferPointer { s in
        integerSums.withUnsafeMutableBufferPointer { n in
            body(Writer(q: q.baseAddress!, d: d.baseAddress!, s: s.baseAddress!, n: n.baseAddress!))
        }}}}
        isCurrent = true
    }

    /// The arrays' addresses while `fill` runs.
    struct Writer: @unchecked Sendable {
        let q: UnsafeMutablePointer<Int8>
        let d: UnsafeMutablePointer<Float>
        let s: UnsafeMutablePointer<Float>
        let n: UnsafeMutablePointer<Int32>

        /// Block b: values x[32b..<32b+32] (vectors lie end to end).
        @inline(__always)
        func quantize(block b: Int, of x: UnsafePointer<Float>) {
            Int8Activations.quantize(block: b, x, q, d, s, n)
        }
    }

    @inline(__always)
    private static func quantize(block b: Int, _ x: UnsafePointer<Float>, _ q: UnsafeMutablePointer<Int8>,
                                 _ d: UnsafeMutablePointer<Float>, _ s: UnsafeMutablePointer<Float>,
                                 _ n: UnsafeMutablePointer<Int32>) {
        let source = x + 32 * b
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(source[j])) }
        let inverse: Float = amax != 0 ? 127 / amax : 0
        var sum: Int32 = 0
        for j in 0..<32 {
            let value = Int8((source[j] * inverse).rounded(.toNearestOrEven))
            q[32 * b + j] = value
            sum += Int32(value)
        }
        d[b] = Float(Float16(amax / 127))
        s[b] = Float(Float16(amax / 127 * Float(sum)))
        n[b] = sum
    }

    /// The arrays' addresses for the kernels, valid while `body` runs.
    func withPointers<R>(_ body: (PanelKernel.Activations) -> R) -> R {
        values.withUnsafeBufferPointer { q in
        scales.withUnsafeBufferPointer { d in
        sums.withUnsafeBufferPointer { s in
        integerSums.withUnsafeBufferPointer { n in
            body(PanelKernel.Activations(values: q.baseAddress!, scales: d.baseAddress!, sums: s.baseAddress!,
                                         integerSums: n.baseAddress!, columns: columns))
        }}}}
    }
}
