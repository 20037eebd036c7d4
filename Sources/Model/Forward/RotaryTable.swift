import Foundation

/// cos and sin of position * frequency for every token and rotated pair, and
/// the rotation itself: pair i of a head turns by position * base^(-2i/d).
/// Both are multiplied by `scale` (a file's `rope.scaling.attn_factor`), so
/// rotated components grow by it; unrotated ones (partial rotary) do not.
struct RotaryTable {
    let cosines: [Float]
    let sines: [Float]
    let pairs: Int
    let pairing: DecoderRecipe.RotaryPairing

    init(positions: [Int], inverseFrequencies: [Float], pairing: DecoderRecipe.RotaryPairing, scale: Float = 1) {
        pairs = inverseFrequencies.count
        self.pairing = pairing
        var c: [Float] = [], s: [Float] = []
        c.reserveCapacity(positions.count * pairs); s.reserveCapacity(positions.count * pairs)
        for p in positions {
            for f in inverseFrequencies {
                let angle = Float(p) * f
                c.append(cosf(angle) * scale); s.append(sinf(angle) * scale)
            }
        }
        cosines = c; sines = s
    }

    /// Rotates rows `rows` of every token's vector of `width` values, heads
    /// side by side. With adjacent pairs a range may be part of a head (it
    /// must start on an even row); with halves it must hold whole heads.
    func apply(_ x: UnsafeMutablePointer<Float>, width: Int, rows: Range<Int>, headDimension: Int) {
        let tokens = cosines.count / max(pairs, 1)
        for t in 0..<tokens {
            let row = x + t * width, angles = t * pairs
            switch pairing {
            case .adjacent:
                for r in stride(from: rows.lowerBound, to: rows.upperBound, by: 2) {
                    let i = (r % headDimension) / 2
                    guard i < pairs else { continue }
                    rotate(&row[r], &row[r + 1], angles + i)
                }
            case .halves:
                // Pairs (i, i + d/2) of the rotated dimensions d = 2 * pairs.
                for head in stride(from: rows.lowerBound, to: rows.upperBound, by: headDimension) {
                    for i in 0..<pairs { rotate(&row[head + i], &row[head + i + pairs], angles + i) }
                }
            }
        }
    }

    @inline(__always)
    private func rotate(_ a: inout Float, _ b: inout Float, _ angle: Int) {
        let c = cosines[angle], s = sines[angle], x = a, y = b
        a = x * c - y * s
        b = x * s + y * c
    }
}
