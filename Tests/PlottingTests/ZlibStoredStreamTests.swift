import Testing
@testable import Plotting

@Suite struct ZlibStoredStreamTests {
    /// Byte-exact expectations; Python's zlib.decompress accepts both
    /// streams and returns b"" and b"abc".
    @Test func emptyInputIsOneFinalEmptyStoredBlock() {
        #expect(ZlibStoredStream.wrap([]) == [0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01])
    }

    @Test func shortInputIsHeaderBlockAndAdler() {
        #expect(ZlibStoredStream.wrap(Array("abc".utf8))
            == [0x78, 0x01, 0x01, 0x03, 0x00, 0xFC, 0xFF, 0x61, 0x62, 0x63, 0x02, 0x4D, 0x01, 0x27])
    }

    @Test(arguments: [
        (byteCount: 65_535, expectedBlocks: [65_535]),
        (byteCount: 65_536, expectedBlocks: [65_535, 1]),
        (byteCount: 200_000, expectedBlocks: [65_535, 65_535, 65_535, 3_395]),
    ])
    func inputIsSplitIntoBlocksOfAtMost65535Bytes(byteCount: Int, expectedBlocks: [Int]) throws {
        let input = (0..<byteCount).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        let (inflated, blockLengths) = try ReferencePNGDecoder.inflateStored(ZlibStoredStream.wrap(input))
        #expect(blockLengths == expectedBlocks)
        #expect(inflated == input)
    }
}
