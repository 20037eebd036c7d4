/// Wraps bytes in a zlib stream (RFC 1950) whose deflate data (RFC 1951) is
/// only *stored* blocks: no compression, but nothing to get wrong in a
/// Huffman coder, and every zlib/PNG decoder must accept it.
enum ZlibStoredStream {
    /// A stored block's LEN field is 16 bits.
    static let maximumBlockLength = 65_535

    /// CMF 0x78 = deflate with a 32 KiB window; FLG 0x01 makes CMF*256+FLG a
    /// multiple of 31 (the header check) and declares "fastest" compression,
    /// which is honest for stored blocks.
    static let header: [UInt8] = [0x78, 0x01]

    static func wrap(_ data: [UInt8]) -> [UInt8] {
        let blockCount = max(1, (data.count + maximumBlockLength - 1) / maximumBlockLength)
        var stream: [UInt8] = []
        stream.reserveCapacity(header.count + data.count + blockCount * 5 + 4)
        stream += header

        // Empty input still needs one (empty, final) block to end the stream.
        var start = data.startIndex
        repeat {
            let end = min(start + maximumBlockLength, data.endIndex)
            let isFinal = end == data.endIndex
            let length = UInt16(end - start)
            // BFINAL is bit 0 and BTYPE (00 = stored) bits 1-2; the rest of the
            // byte is padding because stored data starts on a byte boundary.
            stream.append(isFinal ? 1 : 0)
            stream.appendLittleEndian(length)
            stream.appendLittleEndian(~length)
            stream += data[start..<end]
            start = end
        } while start < data.endIndex

        stream.appendBigEndian(Adler32.checksum(data))
        return stream
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian(_ value: UInt16) {
        append(UInt8(truncatingIfNeeded: value))
        append(UInt8(truncatingIfNeeded: value >> 8))
    }

    mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value >> 24))
        append(UInt8(truncatingIfNeeded: value >> 16))
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }
}
