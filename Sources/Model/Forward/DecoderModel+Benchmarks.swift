import Foundation

extension DecoderModel {
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
            sum + l.matrices.reduce(0) { $0 + $1.rows * $1.columns }
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
