/// Adler-32 (RFC 1950), the checksum that closes a zlib stream.
struct Adler32: Sendable {
    private static let modulus: UInt32 = 65_521
    /// Largest run of bytes after which the sums still fit in 32 bits before
    /// reducing, so the modulo is taken once per run rather than per byte.
    private static let bytesPerReduction = 5_552

    private var sumOfBytes: UInt32 = 1
    private var sumOfSums: UInt32 = 0

    init() {}

    mutating func update(_ bytes: [UInt8]) {
        var a = sumOfBytes, b = sumOfSums
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = min(start + Self.bytesPerReduction, bytes.endIndex)
            for index in start..<end {
                a &+= UInt32(bytes[index])
                b &+= a
            }
            a %= Self.modulus
            b %= Self.modulus
            start = end
        }
        sumOfBytes = a
        sumOfSums = b
    }

    var value: UInt32 { sumOfSums << 16 | sumOfBytes }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var adler = Adler32()
        adler.update(bytes)
        return adler.value
    }
}
