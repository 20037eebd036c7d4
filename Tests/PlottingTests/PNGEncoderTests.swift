import Testing
@testable import Plotting

@Suite struct PNGEncoderTests {
    /// 3x2 RGB, every byte different so a swapped channel, row or column shows.
    static let handMadeRGB: [UInt8] = [
        255, 0, 0,     0, 255, 0,     0, 0, 255,
        1, 2, 3,       250, 251, 252, 128, 64, 32,
    ]

    @Test func fileStartsWithThePNGSignature() {
        let png = PNGEncoder.encode(width: 3, height: 2, format: .rgb8, pixels: Self.handMadeRGB)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    }

    @Test func chunksAreIHDRThenIDATThenIENDWithValidCRCs() throws {
        let png = PNGEncoder.encode(width: 3, height: 2, format: .rgb8, pixels: Self.handMadeRGB)
        let image = try PythonPNGDecoder.decode(png)  // throws on any CRC mismatch
        #expect(image.chunkTypes == ["IHDR", "IDAT", "IEND"])
        #expect(image.chunkLengths[0] == 13)
        #expect(image.chunkLengths[2] == 0)
    }

    /// The decoder is not a rubber stamp: a flipped bit in any chunk fails
    /// its CRC.
    @Test(arguments: [12, 20, 45])
    func aCorruptedByteIsRejected(offset: Int) {
        var png = PNGEncoder.encode(width: 3, height: 2, format: .rgb8, pixels: Self.handMadeRGB)
        png[offset] ^= 0x10
        #expect(throws: PythonPNGDecoder.DecodingError.self) { try PythonPNGDecoder.decode(png) }
    }

    @Test func headerDescribesAn8BitTruecolourNonInterlacedImage() throws {
        let image = try PythonPNGDecoder.decode(
            PNGEncoder.encode(width: 3, height: 2, format: .rgb8, pixels: Self.handMadeRGB))
        #expect(image.width == 3)
        #expect(image.height == 2)
        #expect(image.bitDepth == 8)
        #expect(image.colorType == 2)
        #expect(image.compressionMethod == 0)
        #expect(image.filterMethod == 0)
        #expect(image.interlaceMethod == 0)
    }

    @Test func handMadeRGBImageDecodesToTheSamePixels() throws {
        let image = try PythonPNGDecoder.decode(
            PNGEncoder.encode(width: 3, height: 2, format: .rgb8, pixels: Self.handMadeRGB))
        #expect(image.rowFilterTypes == [0, 0])
        #expect(image.pixel(x: 0, y: 0) == [255, 0, 0])
        #expect(image.pixel(x: 2, y: 0) == [0, 0, 255])
        #expect(image.pixel(x: 0, y: 1) == [1, 2, 3])
        #expect(image.pixel(x: 2, y: 1) == [128, 64, 32])
        #expect(image.pixels == Self.handMadeRGB)
    }

    @Test func rgbaImageKeepsItsAlphaChannel() throws {
        let pixels: [UInt8] = [
            10, 20, 30, 0,     40, 50, 60, 255,
            70, 80, 90, 128,   100, 110, 120, 7,
        ]
        let image = try PythonPNGDecoder.decode(PNGEncoder.encode(width: 2, height: 2, format: .rgba8, pixels: pixels))
        #expect(image.colorType == 6)
        #expect(image.rowFilterTypes == [0, 0])
        #expect(image.pixel(x: 1, y: 0) == [40, 50, 60, 255])
        #expect(image.pixel(x: 0, y: 1) == [70, 80, 90, 128])
        #expect(image.pixels == pixels)
    }

    @Test func onePixelImageRoundTrips() throws {
        let image = try PythonPNGDecoder.decode(PNGEncoder.encode(width: 1, height: 1, format: .rgb8, pixels: [9, 8, 7]))
        #expect(image.width == 1 && image.height == 1)
        #expect(image.pixels == [9, 8, 7])
    }

    /// 200x150 RGB is 90,150 scanline bytes, more than zlib's 64 KiB buffers
    /// and deflate's 32 KiB window.
    @Test func imageLargerThanOneStoredBlockRoundTrips() throws {
        let width = 200, height = 150
        var pixels: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                pixels += [UInt8(x), UInt8(y), UInt8((x + y) % 256)]
            }
        }
        let image = try PythonPNGDecoder.decode(PNGEncoder.encode(width: width, height: height, format: .rgb8, pixels: pixels))
        #expect(image.rowFilterTypes.allSatisfy { $0 == 0 })
        #expect(image.pixel(x: 199, y: 149) == [199, 149, 92])
        #expect(image.pixels == pixels)
    }
}
