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
        var normed = x, attention = x, projected = x
        var q = x
        var k = [Float](repeating: 0, count: count * kvDim), v = k
        var gate = [Float](repeating: 0, count: count * ffn), up = gate
        var quantizedWide = Int8Activations(columns: dim)
        var quantizedFFN = Int8Activations(columns: ffn)
        let rotation = RotaryTable(positions: positions, inverseFrequencies: inverseFrequencies)

        x.withUnsafeMutableBufferPointer { xs in
            for t in 0..<count { embedding.copyRow(Int(tokens[t]), into: xs.baseAddress! + t * dim) }
        }
        for (l, layer) in layers.enumerated() {
            rmsNorm(x, layer.attentionNorm, into: &normed, rows: count)
            quantizedWide.invalidate()
            q.withUnsafeMutableBufferPointer { qp in
                k.withUnsafeMutableBufferPointer { kp in
                    v.withUnsafeMutableBufferPointer { vp in
                        multiply([layer.query, layer.key, layer.value], normed, &quantizedWide,
                                 into: [qp.baseAddress!, kp.baseAddress!, vp.baseAddress!], count: count)
                    }
                }
            }
            rotation.apply(&q, heads: h.headCount, headDimension: headDim, ropeDimensions: h.ropeDimensionCount)
            rotation.apply(&k, heads: h.headCountKV, headDimension: headDim, ropeDimensions: h.ropeDimensionCount)
            k.withUnsafeBufferPointer { ks in
                v.withUnsafeBufferPointer { vs in
                    for t in 0..<count {
                        let table = batch[owner[t]].blockTable
                        let block = table[positions[t] / cache.blockSize], slot = positions[t] % cache.blockSize
                        for head in 0..<h.headCountKV {
                            let offset = t * kvDim + head * headDim
                            cache.store(ks.baseAddress! + offset, block: block, slot: slot, layer: l, value: false, head: head)
                            cache.store(vs.baseAddress! + offset, block: block, slot: slot, layer: l, value: true, head: head)
                        }
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
            multiply(layer.attentionOutput, attention, &quantizedWide, into: &projected, count: count)
            for i in 0..<(count * dim) { x[i] += projected[i] }

            rmsNorm(x, layer.feedForwardNorm, into: &normed, rows: count)
            quantizedWide.invalidate()
            gate.withUnsafeMutableBufferPointer { g in
                up.withUnsafeMutableBufferPointer { u in
                    multiply([layer.gate, layer.up], normed, &quantizedWide, into: [g.baseAddress!, u.baseAddress!], count: count)
                }
            }
            gate.withUnsafeMutableBufferPointer { g in
                up.withUnsafeBufferPointer { u in
                    let g = g.baseAddress!, u = u.baseAddress!
                    // Elementwise: a step of many tokens shares it out by whole tokens.
                    pool.forEachShare(of: count, splittingFrom: 8) { tokens in
                        Kernels.swiGLU(g + tokens.lowerBound * ffn, u + tokens.lowerBound * ffn, count: tokens.count * ffn)
                    }
                }
            }
            quantizedFFN.invalidate()
            multiply(layer.down, gate, &quantizedFFN, into: &projected, count: count)
            for i in 0..<(count * dim) { x[i] += projected[i] }
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
        multiply(output, n, &quantized, into: &logits, count: wanted.count)
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

    /// output[t] = W · input[t] for `count` vectors.
    func multiply(_ w: WeightMatrix, _ input: [Float], _ quantized: inout Int8Activations,
                  into output: inout [Float], count: Int) {
        output.withUnsafeMutableBufferPointer { out in
            multiply([w], input, &quantized, into: [out.baseAddress!], count: count)
        }
    }

    /// Several matrices that multiply the same input (Q, K and V; gate and
    /// up) as one job for the pool: one hand-over instead of one per matrix,
    /// and the small K and V matrices no longer split on their own.
    /// outputs[m][t * rows_m + row] = W_m · input[t]. Matrices in panels
    /// multiply the 8-bit form of the input (quantized here on first use),
    /// others the floats.
    func multiply(_ ws: [WeightMatrix], _ input: [Float], _ quantized: inout Int8Activations,
                  into outputs: [UnsafeMutablePointer<Float>], count: Int) {
        let panelKernels = ws.compactMap(\.panelKernel)
        guard panelKernels.isEmpty || panelKernels.count == ws.count else {
            // Matrices that need different inputs go one by one.
            for (w, y) in zip(ws, outputs) { multiply([w], input, &quantized, into: [y], count: count) }
            return
        }
        guard panelKernels.isEmpty else {
            input.withUnsafeBufferPointer { quantized.prepare($0.baseAddress!, count: count, pool: pool) }
            let panels = panelKernels.map(\.panelCount), rows = ws.map(\.rows)
            quantized.withPointers { x in
                pool.run { worker, workers in
                    WorkerPool.forEachShare(of: panels, worker: worker, workers: workers) { m, range in
                        panelKernels[m].multiply(panels: range, x, count: count, into: outputs[m], stride: rows[m])
                    }
                }
            }
            return
        }
        let kernels = ws.map(\.rowsKernel), rows = ws.map(\.rows), columns = ws[0].columns
        input.withUnsafeBufferPointer { inp in
            let x = inp.baseAddress!
            pool.run { worker, workers in
                WorkerPool.forEachShare(of: rows, worker: worker, workers: workers) { m, range in
                    let kernel = kernels[m], y = outputs[m], stride = rows[m]
                    for row in range {
                        for t in 0..<count { y[t * stride + row] = kernel.dot(row: row, x + t * columns) }
                    }
                }
            }
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

    func apply(_ x: inout [Float], heads: Int, headDimension: Int, ropeDimensions: Int) {
        let tokens = cosines.count / max(pairs, 1)
        for t in 0..<tokens {
            for head in 0..<heads {
                let base = (t * heads + head) * headDimension
                for i in 0..<(ropeDimensions / 2) {
                    let c = cosines[t * pairs + i], s = sines[t * pairs + i]
                    let a = x[base + 2 * i], b = x[base + 2 * i + 1]
                    x[base + 2 * i] = a * c - b * s
                    x[base + 2 * i + 1] = a * s + b * c
                }
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
        multiply(matrix, x, &quantized, into: &y, count: 1)
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<calls { multiply(matrix, x, &quantized, into: &y, count: 1) }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
