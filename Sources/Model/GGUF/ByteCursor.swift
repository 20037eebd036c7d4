/// A bounds-checked little-endian reader over mapped bytes. Every read names
/// what it was reading, so a truncated file says where it ended.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    mutating func need(_ count: Int, for what: @autoclosure () -> String) throws {
        guard count >= 0, count <= remaining else {
            throw GGUFError.truncated(what: what(), offset: offset, needed: count, available: remaining)
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, for: what())
        let value = T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return value
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A GGUF string: u64 length then that many bytes. Returns the byte range,
    /// so callers choose between raw bytes (token texts) and decoded text.
    mutating func readStringRange(_ what: @autoclosure () -> String) throws -> Range<Int> {
        let start = offset
        let length = try read(UInt64.self, what())
        guard length <= UInt64(remaining) else {
            throw GGUFError.truncated(what: what(), offset: start, needed: Int(clamping: length), available: remaining)
        }
        let range = offset..<(offset + Int(length))
        offset += Int(length)
        return range
    }

    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let range = try readStringRange(what())
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// Checks that `count` items of at least `minimumSize` bytes each can fit
    /// in what is left, before anything is allocated for them.
    /// `countOffset` is where the count itself was read, for the message.
    func checkCount(_ count: UInt64, minimumSize: Int, what: String, countOffset: Int) throws {
        guard count <= UInt64(remaining / max(minimumSize, 1)) else {
            throw GGUFError.absurdCount(what: what, count: count, offset: countOffset)
        }
    }

    mutating func skip(_ count: Int, _ what: @autoclosure () -> String) throws {
        try need(count, for: what())
        offset += count
    }
}
