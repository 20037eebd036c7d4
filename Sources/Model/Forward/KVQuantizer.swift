/// q8_0 as the K/V cache stores it. Each 32 consecutive dimensions of one
/// position's head vector become a scale d = max|x| / 127, kept as f16, and
/// 32 signed bytes q = round(x / d), rounded half away from zero; a value
/// reads back as q * d (the f16 d widened). The bytes are computed from d
/// before it is rounded to f16, so the largest element maps to exactly ±127.
/// A group of zeros has d = 0 and q = 0.
public enum KVQuantizer {
    /// Dimensions that share one scale.
    public static let groupSize = 32

    /// Quantizes the group x[0..<32] into out[i * step] and returns its scale.
    @inline(__always)
    public static func quantize(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Int8>, step: Int) -> Float16 {
        var largest: Float = 0
        for i in 0..<groupSize { largest = max(largest, abs(x[i])) }
        let d = largest / 127
        for i in 0..<groupSize {
            // The clamp only matters for non-finite input (a NaN turns into
            // 127 instead of trapping in the conversion).
            let q = d == 0 ? 0 : (x[i] / d).rounded(.toNearestOrAwayFromZero)
            out[i &* step] = Int8(min(127, max(-127, q)))
        }
        return Float16(d)
    }
}
