/// How token ids and chain hashes are stored as bytes, by every store.
enum Codec {
    /// Little-endian fixed-width integers, the same on every machine.
    static func encode<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * MemoryLayout<T>.size)
        for v in values { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    /// nil when the length is not a whole number of values (a damaged row).
    static func decode<T: FixedWidthInteger>(_ bytes: [UInt8], as: T.Type) -> [T]? {
        let size = MemoryLayout<T>.size
        guard bytes.count % size == 0 else { return nil }
        return stride(from: 0, to: bytes.count, by: size).map { i in
            T(littleEndian: bytes[i..<(i + size)].withUnsafeBytes { $0.loadUnaligned(as: T.self) })
        }
    }
}
