/// Content hashes of token chains: hash(parent hash, the block's token ids).
public enum PrefixHash {
    /// FNV-1a over the parent hash and the ids, then a SplitMix64 finaliser
    /// to spread the bits; never 0, which stands for "no parent".
    public static func extend<C: Collection>(_ parent: UInt64, _ tokens: C) -> UInt64 where C.Element == Int32 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ v: UInt64) {
            for shift in stride(from: 0, to: 64, by: 8) {
                h ^= (v >> UInt64(shift)) & 0xFF
                h &*= 0x0000_0100_0000_01B3
            }
        }
        mix(parent)
        for t in tokens { mix(UInt64(UInt32(bitPattern: t))) }
        var z = h &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return z == 0 ? 1 : z
    }
}
