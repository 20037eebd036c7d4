// An independent reader for the PNGs this module writes, so tests check the
// encoder against the file format rather than against the encoder's own code.
// It deliberately shares nothing with the Plotting module: its CRC is the
// bit-at-a-time definition, its Adler-32 takes the modulo on every byte, and
// it inflates stored deflate blocks only (anything else is a failure here,
// since the encoder promises stored blocks).

struct ReferencePNGDecoder {
    struct DecodingError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    struct Chunk {
        let type: String
        let data: [UInt8]
    }

    struct Image {
        let width: Int
        let height: Int
        let bitDepth: UInt8
        let colorType: UInt8
        let compressionMethod: UInt8
        let filterMethod: UInt8
        let interlaceMethod: UInt8
        let chunkTypes: [String]
        /// Filter type byte found at the start of each scanline.
        let rowFilterTypes: [UInt8]
        /// LEN of each stored deflate block, in stream order.
        let storedBlockLengths: [Int]
        /// Unfiltered pixel bytes, row-major.
        let pixels: [UInt8]

        var bytesPerPixel: Int { colorType == 6 ? 4 : 3 }

        func pixel(x: Int, y: Int) -> [UInt8] {
            let offset = (y * width + x) * bytesPerPixel
            return Array(pixels[offset..<(offset + bytesPerPixel)])
        }

        /// (x, y) of every pixel whose first three channels are `rgb`.
        func positions(ofRGB rgb: [UInt8]) -> [(x: Int, y: Int)] {
            var found: [(x: Int, y: Int)] = []
            for y in 0..<height {
                for x in 0..<width {
                    let offset = (y * width + x) * bytesPerPixel
                    if pixels[offset] == rgb[0] && pixels[offset + 1] == rgb[1] && pixels[offset + 2] == rgb[2] {
                        found.append((x, y))
                    }
                }
            }
            return found
        }
    }

    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1
            }
        }
        return ~crc
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        return b << 16 | a
    }

    static func bigEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Splits a PNG file into chunks, verifying each chunk's CRC.
    static func chunks(_ file: [UInt8]) throws -> [Chunk] {
        guard file.count >= 8, Array(file[0..<8]) == signature else { throw DecodingError("bad signature") }
        var chunks: [Chunk] = []
        var offset = 8
        while offset < file.count {
            guard offset + 12 <= file.count else { throw DecodingError("truncated chunk header") }
            let length = Int(bigEndianUInt32(file, at: offset))
            guard offset + 12 + length <= file.count else { throw DecodingError("truncated chunk body") }
            let typeAndData = Array(file[(offset + 4)..<(offset + 8 + length)])
            let storedCRC = bigEndianUInt32(file, at: offset + 8 + length)
            guard crc32(typeAndData) == storedCRC else { throw DecodingError("CRC mismatch in chunk at \(offset)") }
            let type = String(decoding: typeAndData[0..<4], as: UTF8.self)
            chunks.append(Chunk(type: type, data: Array(typeAndData[4...])))
            offset += 12 + length
        }
        return chunks
    }

    /// Inflates a zlib stream made only of stored deflate blocks.
    static func inflateStored(_ stream: [UInt8]) throws -> (data: [UInt8], blockLengths: [Int]) {
        guard stream.count >= 6 else { throw DecodingError("zlib stream too short") }
        let cmf = stream[0], flg = stream[1]
        guard cmf & 0x0F == 8 else { throw DecodingError("compression method is not deflate") }
        guard (UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0 else { throw DecodingError("zlib header check failed") }
        guard flg & 0x20 == 0 else { throw DecodingError("unexpected preset dictionary") }

        var data: [UInt8] = []
        var blockLengths: [Int] = []
        var offset = 2
        var isFinal = false
        while !isFinal {
            guard offset + 5 <= stream.count else { throw DecodingError("truncated block header") }
            let header = stream[offset]
            isFinal = header & 1 == 1
            guard (header >> 1) & 0b11 == 0 else { throw DecodingError("block type \((header >> 1) & 3) is not stored") }
            let length = Int(stream[offset + 1]) | Int(stream[offset + 2]) << 8
            let complement = Int(stream[offset + 3]) | Int(stream[offset + 4]) << 8
            guard length ^ complement == 0xFFFF else { throw DecodingError("LEN/NLEN mismatch") }
            offset += 5
            guard offset + length <= stream.count else { throw DecodingError("truncated stored data") }
            data += stream[offset..<(offset + length)]
            blockLengths.append(length)
            offset += length
        }
        guard offset + 4 == stream.count else { throw DecodingError("expected exactly the Adler-32 after the last block") }
        guard bigEndianUInt32(stream, at: offset) == adler32(data) else { throw DecodingError("Adler-32 mismatch") }
        return (data, blockLengths)
    }

    static func decode(_ file: [UInt8]) throws -> Image {
        let chunks = try chunks(file)
        guard let header = chunks.first, header.type == "IHDR", header.data.count == 13 else {
            throw DecodingError("first chunk must be a 13-byte IHDR")
        }
        guard chunks.last?.type == "IEND", chunks.last?.data.isEmpty == true else { throw DecodingError("last chunk must be an empty IEND") }
        let width = Int(bigEndianUInt32(header.data, at: 0))
        let height = Int(bigEndianUInt32(header.data, at: 4))
        let bitDepth = header.data[8], colorType = header.data[9]
        guard bitDepth == 8, colorType == 2 || colorType == 6 else { throw DecodingError("unsupported depth/colour type") }

        let zlibStream = chunks.filter { $0.type == "IDAT" }.flatMap(\.data)
        let (scanlines, blockLengths) = try inflateStored(zlibStream)
        let bytesPerPixel = colorType == 6 ? 4 : 3
        let rowLength = 1 + width * bytesPerPixel
        guard scanlines.count == rowLength * height else {
            throw DecodingError("expected \(rowLength * height) scanline bytes, got \(scanlines.count)")
        }
        var filters: [UInt8] = []
        var pixels: [UInt8] = []
        for row in 0..<height {
            let start = row * rowLength
            filters.append(scanlines[start])
            // Only filter type 0 (None) is understood; the tests assert on it.
            pixels += scanlines[(start + 1)..<(start + rowLength)]
        }
        return Image(width: width, height: height, bitDepth: bitDepth, colorType: colorType,
                     compressionMethod: header.data[10], filterMethod: header.data[11],
                     interlaceMethod: header.data[12], chunkTypes: chunks.map(\.type),
                     rowFilterTypes: filters, storedBlockLengths: blockLengths, pixels: pixels)
    }
}
