import Foundation

/// One sequence's share of a forward step: its next tokens, the position of
/// the first of them, and the block table through which its keys and values
/// are read and written.
public struct ForwardSequence: Sendable {
    public var tokens: [TokenID]
    public var startPosition: Int
    public var blockTable: [Int32]
    /// Whether to compute logits for the last of `tokens`.
    public var wantsLogits: Bool

    public init(tokens: [TokenID], startPosition: Int, blockTable: [Int32], wantsLogits: Bool = true) {
        self.tokens = tokens
        self.startPosition = startPosition
        self.blockTable = blockTable
        self.wantsLogits = wantsLogits
    }
}

/// The LLaMA-family forward pass: embedding lookup, then per layer
/// x += Wo·attention(RoPE(Wq·norm(x)), K, V) and x += Wdown·(silu(Wgate·n) * Wup·n)
/// with n = norm(x), then the final norm and the output projection.
///
/// A call runs every token of every sequence in one pass, so each weight row
/// is read once per step for the whole batch.
public final class LlamaModel: @unchecked Sendable {
    /// How matrix inputs meet quantized weights.
    public enum ActivationPrecision: String, Sendable, CaseIterable {
        /// Inputs quantized to 8 bits per block of 32, integer dot products
        /// (the trade llama.cpp makes): about 1.8x faster.
        case int8
        /// Exact float inputs: matches a float64 reference to about 1e-6.
        case float
    }

    struct Layer {
        let attentionNorm: [Float]
        let query, key, value, attentionOutput: WeightMatrix
        let feedForwardNorm: [Float]
        let gate, up, down: WeightMatrix
    }

    public let hyperparameters: ModelHyperparameters
    public let vocabularySize: Int
    let embedding: WeightMatrix
    let output: WeightMatrix
    let outputNorm: [Float]
    let layers: [Layer]
    /// base^(-2i/d) for each rotated pair i.
    let inverseFrequencies: [Float]

    let pool: WorkerPool
    public let activationPrecision: ActivationPrecision
    /// The matrices' bytes, copied out of the mapped file onto huge pages.
    let residentWeights: HugePageRegion

    public init(file: ModelFile, activations: ActivationPrecision = .int8, pool: WorkerPool = .shared) throws {
        self.pool = pool
        activationPrecision = activations
        let h = file.hyperparameters
        let g = file.gguf
        hyperparameters = h
        let dim = h.embeddingLength, kvDim = h.headCountKV * h.headDimension, ffn = h.feedForwardLength
        // The attention kernel works on 8 dimensions at a time.
        guard h.headDimension % 8 == 0 else {
            throw GGUFError.valueOutOfRange(key: "\(h.architecture).attention.head_count",
                reason: "head dimension \(h.headDimension) is not a multiple of 8, which kvserve requires")
        }
        let embedding = try WeightMatrix(g.requireTensor("token_embd.weight"))
        guard embedding.columns == dim else {
            throw GGUFError.badTensor(name: "token_embd.weight", reason: "row length \(embedding.columns), expected \(dim)")
        }
        vocabularySize = embedding.rows
        // Tied output: without output.weight the embedding table projects back.
        let output = try g.tensor(named: "output.weight").map { try WeightMatrix($0, rows: embedding.rows, columns: dim) } ?? embedding
        func norm(_ name: String) throws -> [Float] {
            let t = try g.requireTensor(name)
            guard t.elementCount == dim else { throw GGUFError.badTensor(name: name, reason: "\(t.elementCount) values, expected \(dim)") }
            return try t.dequantized()
        }
        outputNorm = try norm("output_norm.weight")
        let layers = try (0..<h.blockCount).map { i in
            func matrix(_ part: String, _ rows: Int, _ columns: Int) throws -> WeightMatrix {
                try WeightMatrix(g.requireTensor("blk.\(i).\(part).weight"), rows: rows, columns: columns)
            }
            return Layer(
                attentionNorm: try norm("blk.\(i).attn_norm.weight"),
                query: try matrix("attn_q", dim, dim), key: try matrix("attn_k", kvDim, dim),
                value: try matrix("attn_v", kvDim, dim), attentionOutput: try matrix("attn_output", dim, dim),
                feedForwardNorm: try norm("blk.\(i).ffn_norm.weight"),
                gate: try matrix("ffn_gate", ffn, dim), up: try matrix("ffn_up", ffn, dim), down: try matrix("ffn_down", dim, ffn))
        }
        // Each matrix's file pages are dropped as soon as it is copied, so
        // the process never holds two copies of the weights at once. With
        // 8-bit activations the copies are the kernels' panels.
        let resident = try Self.copyToHugePages(embedding: embedding, output: output, layers: layers,
                                                panels: activations == .int8) { m in
            g.file.releasePages(of: UnsafeRawBufferPointer(start: m.data, count: m.byteCount))
        }
        (residentWeights, self.embedding, self.output, self.layers) = resident
        // The copies serve every read now; the file's pages only cost memory.
        for tensor in g.tensors { tensor.releaseMappedPages() }
        let d = h.ropeDimensionCount
        inverseFrequencies = (0..<(d / 2)).map { powf(h.ropeFreqBase, -Float(2 * $0) / Float(d)) }
    }

    /// Copies every matrix onto huge pages, the tied embedding once, as
    /// panels where `panels` asks for them and the type has a panel format.
    private static func copyToHugePages(embedding: WeightMatrix, output: WeightMatrix, layers: [Layer], panels: Bool,
                                        copiedFrom release: (WeightMatrix) -> Void) throws
        -> (HugePageRegion, WeightMatrix, WeightMatrix, [Layer]) {
        let tied = output.data == embedding.data
        func aligned(_ n: Int) -> Int { (n + 63) / 64 * 64 }
        func layout(_ m: WeightMatrix) -> PanelFormat? { panels ? PanelFormat(m.type) : nil }
        func bytes(_ m: WeightMatrix) -> Int { aligned(m.byteCount(as: layout(m))) }
        var total = bytes(embedding) + (tied ? 0 : bytes(output))
        for layer in layers {
            for m in [layer.query, layer.key, layer.value, layer.attentionOutput, layer.gate, layer.up, layer.down] {
                total += bytes(m)
            }
        }
        guard let region = HugePageRegion(byteCount: total) else {
            throw GGUFError.badTensor(name: "weights", reason: "could not map \(total) bytes for the model's weights")
        }
        var offset = 0
        func copy(_ m: WeightMatrix) -> WeightMatrix {
            let c = m.copied(to: region.base + offset, as: layout(m))
            offset += bytes(m)
            release(m)
            return c
        }
        let newEmbedding = copy(embedding)
        let newOutput = tied ? newEmbedding : copy(output)
        let newLayers = layers.map { l in
            Layer(attentionNorm: l.attentionNorm, query: copy(l.query), key: copy(l.key), value: copy(l.value),
                  attentionOutput: copy(l.attentionOutput), feedForwardNorm: l.feedForwardNorm,
                  gate: copy(l.gate), up: copy(l.up), down: copy(l.down))
        }
        return (region, newEmbedding, newOutput, newLayers)
    }

    /// Runs the batch, writing each token's keys and values into `cache`
    /// through its sequence's block table, and returns for each sequence the
    /// logits of its last token (nil where not wanted).
    public func forward(_ batch: [ForwardSequence], cache: KVArena) -> [[Float]?] {
        let h = hyperparameters
        let dim = h.embeddingLength, headDim = h.headDimension
        let kvDim = h.headCountKV * headDim, ffn = h.feedForwardLength
        // Flatten: token t belongs to sequence owner[t] at position positions[t].
        var owner: [Int] = [], positions: [Int] = [], tokens: [TokenID] = []
        for (s, sequence) in batch.enumerated() {
            for (i, token) in sequence.tokens.enumerated() {
                precondition(Int(token) >= 0 && Int(token) < vocabularySize, "token \(token) outside the vocabulary")
                precondition((sequence.startPosition + i) / cache.blockSize < sequence.blockTable.count,
                             "block table too short for position \(sequence.startPosition + i)")
                owner.append(s); positions.append(sequence.startPosition + i); tokens.append(token)
            }
        }
        let count = tokens.count
        guard count > 0 else { return batch.map { _ in nil } }
        var tableStart: [Int] = [], tables: [Int32] = []
        var sequenceTableStart: [Int] = []
        for sequence in batch { sequenceTableStart.append(tables.count); tables += sequence.blockTable }
        for t in 0..<count { tableStart.append(sequenceTableStart[owner[t]]) }
        let attentionKernel = PagedAttention(heads: h.headCount, kvHeads: h.headCountKV, headDimension: headDim)
        let step = attentionKernel.step(positions: positions, tableStart: tableStart, tables: tables)

        var x = [Float](repeating: 0, count: count * dim)
        var normed = x, attention = x
        var q = x
        var k = [Float](repeating: 0, count: count * kvDim), v = k
        var gate = [Float](repeating: 0, count: count * ffn), up = gate
        var quantizedWide = Int8Activations(columns: dim)
        var quantizedFFN = Int8Activations(columns: ffn)
        let rotation = RotaryTable(positions: positions, inverseFrequencies: inverseFrequencies)

        x.withUnsafeMutableBufferPointer { xs in
            for t in 0..<count { embedding.copyRow(Int(tokens[t]), into: xs.baseAddress! + t * dim) }
        }
        let slots = positions.indices.map { t in
            (block: batch[owner[t]].blockTable[positions[t] / cache.blockSize], slot: positions[t] % cache.blockSize)
        }
        let ropeDimensions = h.ropeDimensionCount
        // Five pool jobs per layer. The work between products rides in the
        // jobs: each part rotates and caches the Q/K/V rows it computed,
        // applies SwiGLU to its gate/up rows and quantizes them for `down`,
        // and the output products add into the residual stream themselves.
        // Only the norms (and their quantization) run between jobs.
        for (l, layer) in layers.enumerated() {
            rmsNorm(x, layer.attentionNorm, into: &normed, rows: count)
            quantizedWide.invalidate()
            withPointers(&q, &k, &v) { qp, kp, vp in
                multiply([layer.query, layer.key, layer.value], normed, &quantizedWide, into: [qp, kp, vp], count: count) { m, rows in
                    let outputs = [qp, kp, vp], width = [dim, kvDim, kvDim][m]
                    if m < 2 {
                        rotation.apply(outputs[m], width: width, rows: rows, headDimension: headDim, ropeDimensions: ropeDimensions)
                    }
                    guard m > 0 else { return }
                    for t in 0..<count {
                        cache.store(outputs[m] + t * kvDim, elements: rows, block: slots[t].block, slot: slots[t].slot,
                                    layer: l, value: m == 2)
                    }
                }
            }
            q.withUnsafeBufferPointer { qs in
                attention.withUnsafeMutableBufferPointer { out in
                    attentionKernel.run(queries: qs.baseAddress!, step: step, layer: l, cache: cache,
                                        output: out.baseAddress!, pool: pool)
                }
            }
            quantizedWide.invalidate()
            x.withUnsafeMutableBufferPointer { xs in
                multiply([layer.attentionOutput], attention, &quantizedWide, into: [xs.baseAddress!], count: count, accumulating: true)
            }

            rmsNorm(x, layer.feedForwardNorm, into: &normed, rows: count)
            quantizedWide.invalidate()
            let downIsQuantized = layer.down.panelKernel != nil
            withPointers(&gate, &up) { g, u in
                quantizedFFN.fill(count: downIsQuantized ? count : 0) { downInput in
                    multiply([layer.gate, layer.up], normed, &quantizedWide, into: [g, u], count: count,
                             sharing: .sameRows(multiple: 32)) { _, rows in
                        for t in 0..<count {
                            let first = t * ffn + rows.lowerBound
                            Kernels.swiGLU(g + first, u + first, count: rows.count)
                            guard downIsQuantized else { continue }
                            for b in (first / 32)..<((first + rows.count) / 32) { downInput.quantize(block: b, of: g) }
                        }
                    }
                }
            }
            x.withUnsafeMutableBufferPointer { xs in
                multiply([layer.down], gate, &quantizedFFN, into: [xs.baseAddress!], count: count, accumulating: true)
            }
        }

        // Logits for the last token of each sequence that wants them, as one
        // batch: the output matrix is the largest, so it is read once per step.
        var wanted: [Int] = [], lastRows: [Float] = []
        var last = -1
        for (s, sequence) in batch.enumerated() {
            last += sequence.tokens.count
            guard sequence.wantsLogits, !sequence.tokens.isEmpty else { continue }
            wanted.append(s)
            lastRows += x[(last * dim)..<((last + 1) * dim)]
        }
        var results: [[Float]?] = batch.map { _ in nil }
        guard !wanted.isEmpty else { return results }
        var n = lastRows
        rmsNorm(lastRows, outputNorm, into: &n, rows: wanted.count)
        var logits = [Float](repeating: 0, count: wanted.count * vocabularySize)
        var quantized = Int8Activations(columns: dim)
        logits.withUnsafeMutableBufferPointer { y in
            multiply([output], n, &quantized, into: [y.baseAddress!], count: wanted.count)
        }
        for (i, s) in wanted.enumerated() {
            results[s] = Array(logits[(i * vocabularySize)..<((i + 1) * vocabularySize)])
        }
        return results
    }

    // MARK: the pieces, one idea each

    /// y = x / sqrt(mean(x^2) + eps) * weight, row by row (over the pool
    /// when there are many rows: rows are independent).
    func rmsNorm(_ x: [Float], _ weight: [Float], into y: inout [Float], rows: Int) {
        let n = weight.count, epsilon = hyperparameters.rmsNormEpsilon
        x.withUnsafeBufferPointer { xs in
        weight.withUnsafeBufferPointer { w in
        y.withUnsafeMutableBufferPointer { ys in
            let xs = xs.baseAddress!, w = w.baseAddress!, ys = ys.baseAddress!
            pool.forEachShare(of: rows, splittingFrom: 8) { share in
                for r in share {
                    let row = xs + r * n, out = ys + r * n
                    let sumOfSquares = Kernels.dot(row, row, n)
                    let scale = 1 / (sumOfSquares / Float(n) + epsilon).squareRoot()
                    for i in 0..<n { out[i] = row[i] * scale * w[i] }
                }
            }
        }}}
    }

    /// How a product job's parts divide the rows of its matrices.
    enum RowSharing {
        /// The matrices' rows one after another, cut in panels of 8.
        case concatenated
        /// Every matrix's same rows, cut in groups of `multiple` (all the
        /// matrices have the same number of rows): gate and up, whose rows
        /// pair up in SwiGLU.
        case sameRows(multiple: Int)
    }

    /// Several matrices that multiply the same input (Q, K and V; gate and
    /// up) as one job for the pool: one hand-over instead of one per matrix,
    /// and the small K and V matrices no longer split on their own.
    /// outputs[m][t * rows_m + row] = W_m · input[t] (added to it when
    /// `accumulating`). Matrices in panels multiply the 8-bit form of the
    /// input (quantized here on first use), others (a file may mix types)
    /// the floats.
    ///
    /// `finish(m, rows)` runs in the part that computed rows `rows` of matrix
    /// m, for all tokens, right after them (with `.sameRows`, once for all
    /// the matrices, m = 0): work on those rows alone needs no hand-over of
    /// its own. Row ranges start on a multiple of 8 (of the `.sameRows`
    /// multiple).
    func multiply(_ ws: [WeightMatrix], _ input: [Float], _ quantized: inout Int8Activations,
                  into outputs: [UnsafeMutablePointer<Float>], count: Int, accumulating: Bool = false,
                  sharing: RowSharing = .concatenated, finish: ((Int, Range<Int>) -> Void)? = nil) {
        let panelKernels = ws.map(\.panelKernel)
        let rows = ws.map(\.rows), columns = ws[0].columns
        let anyPanels = panelKernels.contains { $0 != nil }
        if anyPanels {
            input.withUnsafeBufferPointer { quantized.prepare($0.baseAddress!, count: count, pool: pool) }
        }
        /// Rows `range` of matrix m for every token.
        func product(_ m: Int, _ range: Range<Int>, _ x: PanelKernel.Activations?, _ floats: UnsafePointer<Float>) {
            let y = outputs[m], stride = rows[m]
            if let kernel = panelKernels[m], let x {
                let panels = (range.lowerBound / PanelFormat.rows)..<((range.upperBound + PanelFormat.rows - 1) / PanelFormat.rows)
                kernel.multiply(panels: panels, x, count: count, into: y, stride: stride, accumulating: accumulating)
            } else {
                let kernel = ws[m].rowsKernel
                for row in range {
                    for t in 0..<count {
                        let dot = kernel.dot(row: row, floats + t * columns)
                        y[t * stride + row] = accumulating ? y[t * stride + row] + dot : dot
                    }
                }
            }
        }
        func job(_ x: PanelKernel.Activations?, _ floats: UnsafePointer<Float>) {
            pool.run { part, parts in
                switch sharing {
                case .concatenated:
                    let unit = PanelFormat.rows
                    WorkerPool.forEachShare(of: rows.map { ($0 + unit - 1) / unit }, worker: part, workers: parts) { m, units in
                        let range = (units.lowerBound * unit)..<min(units.upperBound * unit, rows[m])
                        product(m, range, x, floats)
                        finish?(m, range)
                    }
                case .sameRows(let unit):
                    precondition(rows.allSatisfy { $0 == rows[0] })
                    let units = WorkerPool.share(of: (rows[0] + unit - 1) / unit, worker: part, workers: parts)
                    guard !units.isEmpty else { return }
                    let range = (units.lowerBound * unit)..<min(units.upperBound * unit, rows[0])
                    for m in ws.indices { product(m, range, x, floats) }
                    finish?(0, range)
                }
            }
        }
        input.withUnsafeBufferPointer { floats in
            if !anyPanels {
                job(nil, floats.baseAddress!)
            } else {
                quantized.withPointers { job($0, floats.baseAddress!) }
            }
        }
    }

    /// Mutable base addresses of several arrays at once.
    private func withPointers(_ a: inout [Float], _ b: inout [Float], _ c: inout [Float],
                              _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        a.withUnsafeMutableBufferPointer { a in
            b.withUnsafeMutableBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in body(a.baseAddress!, b.baseAddress!, c.baseAddress!) }
            }
        }
    }

    private func withPointers(_ a: inout [Float], _ b: inout [Float],
                              _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        a.withUnsafeMutableBufferPointer { a in
            b.withUnsafeMutableBufferPointer { b in body(a.baseAddress!, b.baseAddress!) }
        }
    }
}

/// cos and sin of position * frequency for every token and rotated pair;
/// rotates adjacent pairs (x[2i], x[2i+1]) of each head, GGUF's llama layout.
struct RotaryTable {
    let cosines: [Float]
    let sines: [Float]
    let pairs: Int

    init(positions: [Int], inverseFrequencies: [Float]) {
        pairs = inverseFrequencies.count
        var c: [Float] = [], s: [Float] = []
        c.reserveCapacity(positions.count * pairs); s.reserveCapacity(positions.count * pairs)
        for p in positions {
            for f in inverseFrequencies {
                let angle = Float(p) * f
                c.append(cosf(angle)); s.append(sinf(angle))
            }
        }
        cosines = c; sines = s
    }

    /// Rotates rows `rows` (an even start) of every token's vector of
    /// `width` values, heads side by side.
    func apply(_ x: UnsafeMutablePointer<Float>, width: Int, rows: Range<Int>, headDimension: Int, ropeDimensions: Int) {
        let tokens = cosines.count / max(pairs, 1)
        for t in 0..<tokens {
            let row = x + t * width
            for r in stride(from: rows.lowerBound, to: rows.upperBound, by: 2) {
                let i = (r % headDimension) / 2
                guard i < ropeDimensions / 2 else { continue }
                let c = cosines[t * pairs + i], s = sines[t * pairs + i]
                let a = row[r], b = row[r + 1]
                row[r] = a * c - b * s
                row[r + 1] = a * s + b * c
            }
        }
    }
}

extension LlamaModel {
    /// One matrix of each distinct role, with how many times a token uses it
    /// (for `kvserve bench kernels`).
    public var benchmarkMatrices: [(name: String, matrix: WeightMatrix, perToken: Int)] {
        let l = layers[0], n = layers.count
        return [("attn_q", l.query, n), ("attn_k", l.key, n), ("attn_v", l.value, n), ("attn_output", l.attentionOutput, n),
                ("ffn_gate", l.gate, n), ("ffn_up", l.up, n), ("ffn_down", l.down, n), ("output", output, 1)]
    }

    /// Multiply-accumulates of the layers' matrices for one token.
    public var matrixMultiplyAccumulatesPerToken: Int {
        layers.reduce(0) { sum, l in
            sum + [l.query, l.key, l.value, l.attentionOutput, l.gate, l.up, l.down].reduce(0) { $0 + $1.rows * $1.columns }
        }
    }

    /// Seconds for `calls` products of `matrix` with one vector, as the forward
    /// pass runs them. The vector is quantized once, before timing: in the
    /// forward pass too, one quantization serves several matrices.
    public func timeMultiply(_ matrix: WeightMatrix, calls: Int) -> Double {
        var x = [Float](repeating: 0, count: matrix.columns)
        var rng = SplitMix64(seed: 1)
        for i in x.indices { x[i] = Float(Int(rng.next() % 2001) - 1000) / 1000 }
        var y = [Float](repeating: 0, count: matrix.rows)
        var quantized = Int8Activations(columns: matrix.columns)
        let start = y.withUnsafeMutableBufferPointer { y in
            multiply([matrix], x, &quantized, into: [y.baseAddress!], count: 1)
            return DispatchTime.now().uptimeNanoseconds
        }
        y.withUnsafeMutableBufferPointer { y in
            for _ in 0..<calls { multiply([matrix], x, &quantized, into: [y.baseAddress!], count: 1) }
        }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
