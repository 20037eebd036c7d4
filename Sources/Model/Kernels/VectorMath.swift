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
        // Lane-wise compare and select rather than Swift.min/max per lane
        // (which compiled to a branch per lane); NaN passes through alike.
        var x = x.replacing(with: -87, where: x .< V8(repeating: -87))
        x.replace(with: 88, where: x .> V8(repeating: 88))
        // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer,
        // which is then the low bits of the sum's bit pattern.
        let magic = V8(repeating: 12_582_912)
        let shifted = x * V8(repeating: 1.442_695_04) + magic
        let n = shifted - magic
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
        // 2^n: n + 127 in the exponent bits (n is in [-126, 127] after the clamp).
        let bits = unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- SIMD8(repeating: 0x4B40_0000 - 127)
        return p * unsafeBitCast(bits &<< 23, to: V8.self)
    }

    /// The largest of `count` floats (NaNs ignored, -infinity if none), as
    /// `Swift.max` folded left to right gives it: the order does not change
    /// a maximum, so 8 lanes run side by side.
    @inline(__always)
    static func maximum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = V8(repeating: -.infinity), i = 0
        while i &+ 8 <= count {
            let v = load8(values + i)
            lanes.replace(with: v, where: v .>= lanes)
            i &+= 8
        }
        var m = -Float.infinity
        for k in 0..<8 { m = Swift.max(m, lanes[k]) }
        while i < count { m = Swift.max(m, values[i]); i &+= 1 }
        return m
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
