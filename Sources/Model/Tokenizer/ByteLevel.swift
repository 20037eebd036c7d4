/// GPT-2's byte-level alphabet: every byte value stands for one printable
/// Unicode character, so BPE over characters covers arbitrary bytes. Bytes
/// that are printable Latin-1 (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) map to
/// themselves; the other 68 map to U+0100 onwards, in byte order.
enum ByteLevel {
    static let characterForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 0x100
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    static let byteForCharacter: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (b, c) in characterForByte.enumerated() { map[c] = UInt8(b) }
        return map
    }()

    /// The UTF-8 bytes of the character standing for `byte`.
    static let encodedByte: [[UInt8]] = characterForByte.map { Array(String(Unicode.Scalar($0)!).utf8) }

    /// Token text (byte-level characters) back to the raw bytes it stands
    /// for. A character outside the alphabet is kept as its own UTF-8.
    static func decode(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        for scalar in String(decoding: text, as: UTF8.self).unicodeScalars {
            if let b = byteForCharacter[scalar.value] {
                out.append(b)
            } else {
                out.append(contentsOf: Array(String(scalar).utf8))
            }
        }
        return out
    }
}
