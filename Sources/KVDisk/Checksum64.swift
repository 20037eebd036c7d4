/// A 64-bit checksum of a byte stream fed in pieces, to catch torn writes
/// and flipped bits in stored K/V blocks (not an adversarial hash).
///
/// Four independent lanes of the multiply-rotate round that xxHash64 uses
/// (its published primes), 32 bytes per round, so the loop runs at memory
/// speed instead of one multiply latency per word. Pieces must be multiples
/// of 32 bytes except the last, so that a stream checksums the same however
/// it is split into such pieces (a block's segments in RAM or one copy).
public struct Checksum64: Sendable {
    private static let p1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let p3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let p4: UInt64 = 0x85EB_CA77_C2B2_AE63

    private var lanes: (UInt64, UInt64, UInt64, UInt64) = (p1 &+ p2, p2, 0, 0 &- p1)
    private var length = 0
    private var tail: UInt64 = 0
    private var ended = false

    public init() {}

    @inline(__always)
    private static func round(_ lane: UInt64, _ word: UInt64) -> UInt64 {
        let x = lane &+ word &* p2
        return ((x << 31) | (x >> 33)) &* p1
    }

    /// Feeds `bytes`; only the last piece may be a length not divisible by 32.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!ended, "a piece not a multiple of 32 bytes must be the last")
        let rounds = bytes.count / 32
        if let base = bytes.baseAddress, rounds > 0 {
            var (a, b, c, d) = lanes
            for r in 0..<rounds {
                let p = base + r * 32
                a = Self.round(a, p.loadUnaligned(as: UInt64.self))
                b = Self.round(b, p.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                c = Self.round(c, p.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
                d = Self.round(d, p.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            }
            lanes = (a, b, c, d)
        }
        for i in (rounds * 32)..<bytes.count {
            tail = (tail ^ UInt64(bytes[i])) &* Self.p3
            ended = true
        }
        length += bytes.count
    }

    /// The checksum of everything fed so far.
    public var value: UInt64 {
        let (a, b, c, d) = lanes
        var h = ((a << 1) | (a >> 63)) &+ ((b << 7) | (b >> 57)) &+ ((c << 12) | (c >> 52)) &+ ((d << 18) | (d >> 46))
        h = (h ^ tail) &* Self.p4 &+ UInt64(length)
        h ^= h >> 33
        h &*= Self.p2
        h ^= h >> 29
        h &*= Self.p3
        h ^= h >> 32
        return h
    }

    /// The checksum of one buffer.
    public static func of(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var sum = Checksum64()
        sum.update(bytes)
        return sum.value
    }
}
