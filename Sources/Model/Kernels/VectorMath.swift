/// Elementwise functions on 8 floats at a time. The C library's expf is a
/// call per value; attention at context 2048 needs half a million
/// exponentials per token, so they are computed here in SIMD lanes.
extension Kernels {
    /// e^x to within about 2 float ulps for x in [-87, 88]; below that it
    /// returns about 1e-38 instead of 0 (harmless in softmax and SiLU).
    ///
    /// e^x = 2^n * e^r with n = round(x / ln 2) and |r| <= ln 2 / 2; e^r is its
    /// Taylor series to degree 7 (truncation error < r^8 / 8! ~ 5e-9), and
    /// 2^n is built directly in the exponent bits.
    @inline(__always)
    static func exp(_ x: V8) -> V8 {
        var x = x
        for i in 0..<8 { x[i] = Swift.min(Swift.max(x[i], -87), 88) }
        // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
        let magic = V8(repeating: 12_582_912)
        let n = (x * V8(repeating: 1.442_695_04) + magic) - magic
        // ln 2 split in two so that n * ln2High is exact.
        let r = x - n * V8(repeating: 0.693_359_375) - n * V8(repeating: -2.121_944_4e-4)
        var p = V8(repeating: 1.0 / 5040)
        p = V8(repeating: 1.0 / 720).addingProduct(p, r)
        p = V8(repeating: 1.0 / 120).addingProduct(p, r)
        p = V8(repeating: 1.0 / 24).addingProduct(p, r)
        p = V8(repeating: 1.0 / 6).addingProduct(p, r)
        p = V8(repeating: 0.5).addingProduct(p, r)
        p = V8(repeating: 1).addingProduct(p, r)
        p = V8(repeating: 1).addingProduct(p, r)
        var scale = V8()
        for i in 0..<8 { scale[i] = Float(bitPattern: UInt32(Int32(n[i]) + 127) << 23) }
        return p * scale
    }

    /// x * sigmoid(x) = x / (1 + e^-x).
    @inline(__always)
    static func silu(_ x: V8) -> V8 {
        x / (V8(repeating: 1) + exp(-x))
    }

    /// GELU with the tanh approximation, 0.5x(1 + tanh(z)) with
    /// z = sqrt(2/pi)(x + 0.044715x^3), written as x / (1 + e^(-2z)) (the
    /// same function: 0.5(1 + tanh z) = sigmoid(2z)).
    @inline(__always)
    static func geluTanh(_ x: V8) -> V8 {
        let twiceZ = V8(repeating: 2 * 0.797_884_56) * (x + V8(repeating: 0.044_715) * x * x * x)
        return x / (V8(repeating: 1) + exp(-twiceZ))
    }

    /// gate[i] = silu(gate[i]) * up[i] (SwiGLU).
    static func swiGLU(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        gated(gate, up, count: count, silu)
    }

    /// gate[i] = geluTanh(gate[i]) * up[i] (GeGLU).
    static func geGLU(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        gated(gate, up, count: count, geluTanh)
    }

    /// gate[i] = activation(gate[i]) * up[i], 8 at a time, the tail one by
    /// one in lane 0 (the same arithmetic, so a value does not depend on
    /// where a call starts).
    @inline(__always)
    private static func gated(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int,
                              _ activation: (V8) -> V8) {
        var i = 0
        while i + 8 <= count {
            let g = load8(gate + i)
            UnsafeMutableRawPointer(gate + i).storeBytes(of: activation(g) * load8(up + i), as: V8.self)
            i += 8
        }
        while i < count {
            var g = V8(repeating: 0)
            g[0] = gate[i]
            gate[i] = activation(g)[0] * up[i]
            i += 1
        }
    }
}
