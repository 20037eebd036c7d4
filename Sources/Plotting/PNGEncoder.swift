import CZlib

/// The pixel layouts the encoder accepts: 8 bits per channel, no palette.
enum PNGPixelFormat: Sendable {
    case rgb8
    case rgba8

    var bytesPerPixel: Int {
        switch self {
        case .rgb8: 3
        case .rgba8: 4
        }
    }

    /// IHDR colour type: 2 = truecolour, 6 = truecolour with alpha.
    var colorType: UInt8 {
        switch self {
        case .rgb8: 2
        case .rgba8: 6
        }
    }
}

/// Encodes a row-major, top-to-bottom pixel buffer as a PNG file.
enum PNGEncoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func encode(width: Int, height: Int, format: PNGPixelFormat, pixels: [UInt8]) -> [UInt8] {
        precondition(width >= 1 && height >= 1, "PNG images need at least one pixel")
        precondition(width <= Int(Int32.max) && height <= Int(Int32.max), "PNG dimensions are 31-bit")
        precondition(pixels.count == width * height * format.bytesPerPixel, "pixel buffer size mismatch")

        var header: [UInt8] = []
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header += [
            8,                  // bit depth per channel
            format.colorType,
            0,                  // compression method: zlib/deflate
            0,                  // filter method: adaptive, per-row filter byte
            0,                  // no interlacing
        ]

        var png = signature
        appendChunk("IHDR", header, to: &png)
        appendChunk("IDAT", zlibStream(filteredScanlines(width: width, height: height, format: format, pixels: pixels)), to: &png)
        appendChunk("IEND", [], to: &png)
        return png
    }

    /// Every scanline is prefixed with filter type 0 (None): a chart is runs
    /// of flat colour, which deflate compresses well without prediction.
    private static func filteredScanlines(width: Int, height: Int, format: PNGPixelFormat, pixels: [UInt8]) -> [UInt8] {
        let rowLength = width * format.bytesPerPixel
        var scanlines: [UInt8] = []
        scanlines.reserveCapacity(height * (rowLength + 1))
        for row in 0..<height {
            scanlines.append(0)
            scanlines += pixels[(row * rowLength)..<((row + 1) * rowLength)]
        }
        return scanlines
    }

    /// The zlib stream (RFC 1950) PNG wants in IDAT, made by the system's zlib.
    private static func zlibStream(_ data: [UInt8]) -> [UInt8] {
        var length = compressBound(uLong(data.count))
        var stream = [UInt8](repeating: 0, count: Int(length))
        let status = stream.withUnsafeMutableBufferPointer { output in
            data.withUnsafeBufferPointer { input in
                compress2(output.baseAddress, &length, input.baseAddress, uLong(input.count), Z_BEST_COMPRESSION)
            }
        }
        // compressBound leaves room for any input, so only memory can run out.
        precondition(status == Z_OK, "zlib compress2 failed (\(status))")
        stream.removeSubrange(Int(length)...)
        return stream
    }

    private static func appendChunk(_ type: String, _ data: [UInt8], to png: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        precondition(typeBytes.count == 4)
        png.appendBigEndian(UInt32(data.count))
        // The CRC (zlib's CRC-32, the one PNG specifies) covers the type and
        // data but not the length.
        var crc = crc32_z(0, typeBytes, typeBytes.count)
        crc = data.withUnsafeBufferPointer { crc32_z(crc, $0.baseAddress, $0.count) }
        png += typeBytes
        png += data
        png.appendBigEndian(UInt32(crc))
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value >> 24))
        append(UInt8(truncatingIfNeeded: value >> 16))
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }
}
