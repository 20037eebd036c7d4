/// One sequence's share of a forward step: its next tokens, the position of
/// the first of them, and the block table through which its keys and values
/// are read and written.
public struct ForwardSequence: Sendable {
    public var tokens: [TokenID]
    public var startPosition: Int
    public var blockTable: [Int32]
    /// Whether to compute logits for the last of `tokens`.
    public var wantsLogits: Bool
    /// How many of the last tokens get logits, when it wants them: more
    /// than one to check a speculative draft (each row as it would be
    /// alone), one to sample the next token.
    public var logitRows: Int

    public init(tokens: [TokenID], startPosition: Int, blockTable: [Int32], wantsLogits: Bool = true, logitRows: Int = 1) {
        precondition(logitRows >= 1 && logitRows <= max(1, tokens.count))
        self.tokens = tokens
        self.startPosition = startPosition
        self.blockTable = blockTable
        self.wantsLogits = wantsLogits
        self.logitRows = logitRows
    }
}

/// A decoder-only transformer, run the way its architecture's file says
/// (Architectures/: `Llama`, `Gemma3`, `Qwen2`, `Qwen3`, `Phi3`). Per layer:
///
///     x += post?(Wo · attention(RoPE(qkNorm?(Wq·n)), RoPE(qkNorm?(Wk·n)), Wv·n))   n = norm(x)
///     x += post?(Wdown · (act(Wgate·n) * Wup·n))                                   n = norm(x)
///
/// then the final norm and the output projection. A call runs every token of
/// every sequence in one pass, so each weight row is read once per step for
/// the whole batch.
public final class DecoderModel: @unchecked Sendable {
    /// How matrix inputs meet quantized weights.
    public enum ActivationPrecision: String, Sendable, CaseIterable {
        /// Inputs quantized to 8 bits per block of 32, integer dot products
        /// (the trade llama.cpp makes): about 1.8x faster.
        case int8
        /// Exact float inputs: matches a float64 reference to about 1e-6.
        case float
    }

    public let hyperparameters: ModelHyperparameters
    public let vocabularySize: Int
    let recipe: DecoderRecipe
    let embedding: WeightMatrix
    let output: WeightMatrix
    let outputNorm: [Float]
    let layers: [DecoderLayer]

    let pool: WorkerPool
    public let activationPrecision: ActivationPrecision
    /// The matrices' bytes, copied out of the mapped file onto huge pages.
    let residentWeights: HugePageRegion

    public init(file: ModelFile, activations: ActivationPrecision = .int8, pool: WorkerPool = .shared) throws {
        self.pool = pool
        activationPrecision = activations
        let h = file.hyperparameters
        hyperparameters = h
        // The attention kernel works on 8 dimensions at a time.
        guard h.headDimension % 8 == 0 else {
            throw GGUFError.valueOutOfRange(key: "\(h.architecture).attention.head_count",
                reason: "head dimension \(h.headDimension) is not a multiple of 8, which kvserve requires")
        }
        let reader = DecoderTensorReader(file: file)
        let weights: DecoderWeights
        switch h.architecture {
        case "gemma3": weights = try Gemma3.weights(reader)
        case "qwen2": weights = try Qwen2.weights(reader)
        case "qwen3": weights = try Qwen3.weights(reader)
        case "phi3": weights = try Phi3.weights(reader)
        default: weights = try Llama.weights(reader)
        }
        try reader.requireEverythingRead()
        recipe = weights.recipe
        vocabularySize = weights.embedding.rows
        outputNorm = weights.outputNorm
        // Each matrix's file pages are dropped as soon as it is copied, so
        // the process never holds two copies of the weights at once. With
        // 8-bit activations the copies are the kernels' panels.
        let g = file.gguf
        let resident = try Self.copyToHugePages(weights, panels: activations == .int8) { m in
            g.file.releasePages(of: UnsafeRawBufferPointer(start: m.data, count: m.byteCount))
        }
        (residentWeights, embedding, output, layers) = resident
        // The copies serve every read now; the file's pages only cost memory.
        for tensor in g.tensors { tensor.releaseMappedPages() }
    }

    /// Copies every matrix onto huge pages, the tied embedding once, as
    /// panels where `panels` asks for them and the type has a panel format.
    private static func copyToHugePages(_ weights: DecoderWeights, panels: Bool,
                                        copiedFrom release: (WeightMatrix) -> Void) throws
        -> (HugePageRegion, WeightMatrix, WeightMatrix, [DecoderLayer]) {
        let tied = weights.output.data == weights.embedding.data
        func aligned(_ n: Int) -> Int { (n + 63) / 64 * 64 }
        func layout(_ m: WeightMatrix) -> PanelFormat? { panels ? PanelFormat(m.type) : nil }
        func bytes(_ m: WeightMatrix) -> Int { aligned(m.byteCount(as: layout(m))) }
        var total = bytes(weights.embedding) + (tied ? 0 : bytes(weights.output))
        for layer in weights.layers {
            for m in layer.matrices { total += bytes(m) }
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
        let embedding = copy(weights.embedding)
        let output = tied ? embedding : copy(weights.output)
        let layers = weights.layers.map { $0.mapMatrices(copy) }
        return (region, embedding, output, layers)
    }

    /// Runs the batch, writing each token's keys and values into `cache`
    /// through its sequence's block table, and returns for each sequence the
    /// logits of its last token (nil where not wanted).
    public func forward(_ batch: [ForwardSequence], cache: KVArena) -> [[Float]?] {
        let h = hyperparameters
        let dim = h.embeddingLength, headDim = h.headDimension
        let qDim = h.headCount * headDim, kvDim = h.headCountKV * headDim, ffn = h.feedForwardLength
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
        // Each part of the Q/K/V product caches the K/V rows it computed;
        // q8_0 quantizes whole 32-dimension groups, so its parts are cut on them.
        let storeMultiple = cache.elementType == .q8_0 ? KVQuantizer.groupSize : PanelFormat.rows
        let attentionKernel = PagedAttention(heads: h.headCount, kvHeads: h.headCountKV, headDimension: headDim)
        // Work items and rotations depend on the step's positions and on the
        // layer's window and frequencies, which few layers differ in.
        var steps: [Int: PagedAttention.Step] = [:]
        var rotations: [[Float]: RotaryTable] = [:]
        for layer in layers {
            let window = layer.window ?? 0
            if steps[window] == nil {
                steps[window] = attentionKernel.step(positions: positions, tableStart: tableStart, tables: tables, window: layer.window)
            }
            if rotations[layer.inverseFrequencies] == nil {
                rotations[layer.inverseFrequencies] = RotaryTable(positions: positions, inverseFrequencies: layer.inverseFrequencies,
                                                                  pairing: recipe.rotaryPairing, scale: h.ropeAttentionFactor)
            }
        }
        let slots = positions.indices.map { t in
            (block: batch[owner[t]].blockTable[positions[t] / cache.blockSize], slot: positions[t] % cache.blockSize)
        }

        var x = [Float](repeating: 0, count: count * dim)
        var normed = x, projected = x
        var q = [Float](repeating: 0, count: count * qDim), attention = q
        var k = [Float](repeating: 0, count: count * kvDim), v = k
        var gate = [Float](repeating: 0, count: count * ffn), up = gate
        var quantizedWide = Int8Activations(columns: dim)
        var quantizedHeads = Int8Activations(columns: qDim)
        var quantizedFFN = Int8Activations(columns: ffn)

        x.withUnsafeMutableBufferPointer { xs in
            for t in 0..<count {
                let row = xs.baseAddress! + t * dim
                embedding.copyRow(Int(tokens[t]), into: row)
                if let scale = recipe.embeddingScale { for i in 0..<dim { row[i] *= scale } }
            }
        }
        // A layer is five pool jobs. The work between products rides in the
        // jobs where it can: each part rotates and caches the Q/K/V rows it
        // computed (unless whole heads must be normalised first), applies the
        // gate's activation to its gate/up rows and quantizes them for
        // `down`, and output products without a post-norm add into the
        // residual stream themselves.
        for (l, layer) in layers.enumerated() {
            let rotation = rotations[layer.inverseFrequencies]!
            /// Keys and values of rows `rows` (of kvDim) into the cache, every token.
            func store(_ source: UnsafePointer<Float>, rows: Range<Int>, value: Bool) {
                for t in 0..<count {
                    cache.store(source + t * kvDim, elements: rows, block: slots[t].block, slot: slots[t].slot,
                                layer: l, value: value)
                }
            }
            // Attention.
            rmsNorm(x, layer.attentionNorm, into: &normed, rows: count)
            quantizedWide.invalidate()
            let headsNormed = layer.queryNorm != nil
            let rotateInParts = !headsNormed && recipe.rotaryPairing == .adjacent
            withPointers(&q, &k, &v) { qp, kp, vp in
                multiply([layer.query, layer.key, layer.value], normed, &quantizedWide, into: [qp, kp, vp], count: count,
                         sharing: .concatenated(multiple: storeMultiple)) { m, rows in
                    let output = m == 0 ? qp : m == 1 ? kp : vp, width = m == 0 ? qDim : kvDim
                    if let bias = m == 0 ? layer.queryBias : m == 1 ? layer.keyBias : layer.valueBias {
                        for t in 0..<count {
                            let row = output + t * width
                            for i in rows { row[i] += bias[i] }
                        }
                    }
                    guard rotateInParts || m == 2 else { return }
                    if m < 2 { rotation.apply(output, width: width, rows: rows, headDimension: headDim) }
                    if m > 0 { store(output, rows: rows, value: m == 2) }
                }
                if !rotateInParts {
                    if let queryNorm = layer.queryNorm, let keyNorm = layer.keyNorm {
                        rmsNorm(qp, queryNorm, into: qp, rows: count * h.headCount)
                        rmsNorm(kp, keyNorm, into: kp, rows: count * h.headCountKV)
                    }
                    rotation.apply(qp, width: qDim, rows: 0..<qDim, headDimension: headDim)
                    rotation.apply(kp, width: kvDim, rows: 0..<kvDim, headDimension: headDim)
                    store(kp, rows: 0..<kvDim, value: false)
                }
            }
            q.withUnsafeBufferPointer { qs in
                attention.withUnsafeMutableBufferPointer { out in
                    attentionKernel.run(queries: qs.baseAddress!, step: steps[layer.window ?? 0]!, layer: l, cache: cache,
                                        output: out.baseAddress!, pool: pool)
                }
            }
            quantizedHeads.invalidate()
            addToResidual(&x, layer.attentionOutput, attention, &quantizedHeads, postNorm: layer.postAttentionNorm,
                          scratch: &projected, count: count)

            // Feed-forward.
            rmsNorm(x, layer.feedForwardNorm, into: &normed, rows: count)
            quantizedWide.invalidate()
            let downIsQuantized = layer.down.panelKernel != nil
            let activation = recipe.gateActivation
            withPointers(&gate, &up) { g, u in
                quantizedFFN.fill(count: downIsQuantized ? count : 0) { downInput in
                    multiply([layer.gate, layer.up], normed, &quantizedWide, into: [g, u], count: count,
                             sharing: .sameRows(multiple: 32)) { _, rows in
                        for t in 0..<count {
                            let first = t * ffn + rows.lowerBound
                            switch activation {
                            case .silu: Kernels.swiGLU(g + first, u + first, count: rows.count)
                            case .geluTanh: Kernels.geGLU(g + first, u + first, count: rows.count)
                            }
                            guard downIsQuantized else { continue }
                            for b in (first / 32)..<((first + rows.count) / 32) { downInput.quantize(block: b, of: g) }
                        }
                    }
                }
            }
            addToResidual(&x, layer.down, gate, &quantizedFFN, postNorm: layer.postFeedForwardNorm,
                          scratch: &projected, count: count)
        }

        // Logits for the last rows of each sequence that wants them (its last
        // token's, or a draft's), as one batch: the output matrix is the
        // largest, so it is read once per step.
        var wanted: [(sequence: Int, rows: Int)] = [], lastRows: [Float] = []
        var end = 0
        for (s, sequence) in batch.enumerated() {
            end += sequence.tokens.count
            guard sequence.wantsLogits, !sequence.tokens.isEmpty else { continue }
            wanted.append((s, sequence.logitRows))
            lastRows += x[((end - sequence.logitRows) * dim)..<(end * dim)]
        }
        var results: [[Float]?] = batch.map { _ in nil }
        guard !wanted.isEmpty else { return results }
        let rows = wanted.reduce(0) { $0 + $1.rows }
        var n = lastRows
        rmsNorm(lastRows, outputNorm, into: &n, rows: rows)
        var logits = [Float](repeating: 0, count: rows * vocabularySize)
        var quantized = Int8Activations(columns: dim)
        logits.withUnsafeMutableBufferPointer { y in
            multiply([output], n, &quantized, into: [y.baseAddress!], count: rows)
        }
        var row = 0
        for (s, count) in wanted {
            results[s] = Array(logits[(row * vocabularySize)..<((row + count) * vocabularySize)])
            row += count
        }
        return results
    }

    // MARK: the pieces, one idea each

    /// x += W · input, or x += norm(W · input) * postNorm: without a post-norm
    /// the product adds into x as it stores.
    func addToResidual(_ x: inout [Float], _ w: WeightMatrix, _ input: [Float], _ quantized: inout Int8Activations,
                       postNorm: [Float]?, scratch: inout [Float], count: Int) {
        guard let postNorm else {
            x.withUnsafeMutableBufferPointer { xs in
                multiply([w], input, &quantized, into: [xs.baseAddress!], count: count, accumulating: true)
            }
            return
        }
        scratch.withUnsafeMutableBufferPointer { y in
            multiply([w], input, &quantized, into: [y.baseAddress!], count: count)
            rmsNorm(y.baseAddress!, postNorm, into: y.baseAddress!, rows: count)
        }
        for i in 0..<(count * w.rows) { x[i] += scratch[i] }
    }

    /// y = x / sqrt(mean(x^2) + eps) * weight, row by row.
    func rmsNorm(_ x: [Float], _ weight: [Float], into y: inout [Float], rows: Int) {
        x.withUnsafeBufferPointer { xs in
            y.withUnsafeMutableBufferPointer { ys in rmsNorm(xs.baseAddress!, weight, into: ys.baseAddress!, rows: rows) }
        }
    }

    /// The same on rows of `weight.count` values at `x`; `y` may be `x`. Over
    /// the pool when there are many rows: rows are independent.
    func rmsNorm(_ x: UnsafePointer<Float>, _ weight: [Float], into y: UnsafeMutablePointer<Float>, rows: Int) {
        let n = weight.count, epsilon = hyperparameters.rmsNormEpsilon
        weight.withUnsafeBufferPointer { w in
            let w = w.baseAddress!
            pool.forEachShare(of: rows, splittingFrom: 8) { share in
                for r in share {
                    let row = x + r * n, out = y + r * n
                    let sumOfSquares = Kernels.dot(row, row, n)
                    let scale = 1 / (sumOfSquares / Float(n) + epsilon).squareRoot()
                    for i in 0..<n { out[i] = row[i] * scale * w[i] }
                }
            }
        }
    }
}
