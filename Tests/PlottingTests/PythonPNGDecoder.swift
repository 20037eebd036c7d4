import Foundation
import TestSupport

// An independent reader for the PNGs this module writes, so tests check the
// encoder against the file format rather than against the encoder's own code:
// Python's standard library (struct, zlib) splits the file into chunks,
// checks every chunk's CRC, inflates IDAT and returns the scanlines.

enum PythonPNGDecoder {
    struct DecodingError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
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
        /// Length of each chunk's data, in file order.
        let chunkLengths: [Int]
        /// Filter type byte found at the start of each scanline.
        let rowFilterTypes: [UInt8]
        /// Pixel bytes, row-major, without the filter bytes.
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

    /// argv: the PNG, where to write the pixels. Prints the header as JSON.
    /// Only filter type 0 (None) is undone; the tests assert on the filter bytes.
    static let script = #"""
        import json, struct, sys, zlib
        png = open(sys.argv[1], "rb").read()
        assert png[:8] == b"\x89PNG\r\n\x1a\n", "bad signature"
        chunks, offset = [], 8
        while offset < len(png):
            assert offset + 12 <= len(png), "truncated chunk header"
            (length,) = struct.unpack(">I", png[offset:offset + 4])
            kind, body = png[offset + 4:offset + 8], png[offset + 8:offset + 8 + length]
            assert len(body) == length and offset + 12 + length <= len(png), "truncated chunk"
            (crc,) = struct.unpack(">I", png[offset + 8 + length:offset + 12 + length])
            assert zlib.crc32(kind + body) == crc, "CRC mismatch in chunk at %d" % offset
            chunks.append((kind.decode("ascii"), body))
            offset += 12 + length
        kinds = [kind for kind, _ in chunks]
        assert kinds[0] == "IHDR" and len(chunks[0][1]) == 13, "first chunk must be a 13-byte IHDR"
        assert kinds[-1] == "IEND" and chunks[-1][1] == b"", "last chunk must be an empty IEND"
        width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
        assert depth == 8 and colour in (2, 6), "unsupported depth/colour type"
        inflater = zlib.decompressobj()
        scanlines = inflater.decompress(b"".join(body for kind, body in chunks if kind == "IDAT"))
        assert inflater.eof and not inflater.unused_data, "IDAT is not exactly one zlib stream"
        row = 1 + width * (4 if colour == 6 else 3)
        assert len(scanlines) == row * height, "expected %d scanline bytes, got %d" % (row * height, len(scanlines))
        open(sys.argv[2], "wb").write(b"".join(scanlines[r * row + 1:(r + 1) * row] for r in range(height)))
        print(json.dumps({"width": width, "height": height, "bitDepth": depth, "colorType": colour,
                          "compressionMethod": compression, "filterMethod": filtering, "interlaceMethod": interlace,
                          "chunkTypes": kinds, "chunkLengths": [len(body) for _, body in chunks],
                          "rowFilterTypes": [scanlines[r * row] for r in range(height)]}))
        """#

    private struct Header: Decodable {
        let width, height: Int
        let bitDepth, colorType, compressionMethod, filterMethod, interlaceMethod: UInt8
        let chunkTypes: [String]
        let chunkLengths: [Int]
        let rowFilterTypes: [UInt8]
    }

    static func decode(_ file: [UInt8]) throws -> Image {
        try withTemporaryDirectory { directory in
            let png = directory.appendingPathComponent("image.png")
            try Data(file).write(to: png)
            return try decode(file: png.path, pixelsTo: directory.appendingPathComponent("pixels").path)
        }
    }

    /// Decodes a PNG already on disk (as kvserve-plot writes them).
    static func decode(file: String) throws -> Image {
        try withTemporaryDirectory { try decode(file: file, pixelsTo: $0.appendingPathComponent("pixels").path) }
    }

    static func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plotting-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try body(directory)
    }

    private static func decode(file: String, pixelsTo pixelPath: String) throws -> Image {
        let result = try Subprocess.run("/usr/bin/env", ["python3", "-c", script, file, pixelPath])
        guard result.status == 0 else {
            throw DecodingError("python3 rejected the PNG: \(result.output)\(result.error)")
        }
        let output = Data(result.output.utf8)
        let header = try JSONDecoder().decode(Header.self, from: output)
        return Image(width: header.width, height: header.height, bitDepth: header.bitDepth, colorType: header.colorType,
                     compressionMethod: header.compressionMethod, filterMethod: header.filterMethod,
                     interlaceMethod: header.interlaceMethod, chunkTypes: header.chunkTypes,
                     chunkLengths: header.chunkLengths, rowFilterTypes: header.rowFilterTypes,
                     pixels: [UInt8](try Data(contentsOf: URL(fileURLWithPath: pixelPath))))
    }
}
