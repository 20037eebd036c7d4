import Testing
@testable import Plotting

// Expected values are published check values or were computed with Python's
// zlib.crc32 / zlib.adler32, not with this module.
@Suite struct ChecksumTests {
    @Test func crc32OfTheStandardCheckStringIsCBF43926() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func crc32OfNothingIsZero() {
        #expect(CRC32.checksum([UInt8]()) == 0)
    }

    @Test func crc32FedInPiecesMatchesTheCheckValue() {
        var crc = CRC32()
        crc.update(Array("1234".utf8))
        crc.update(Array("56789".utf8))
        #expect(crc.value == 0xCBF4_3926)
    }

    @Test func crc32OfALongRunMatchesZlib() {
        #expect(CRC32.checksum([UInt8](repeating: 0xFF, count: 100_000)) == 0x68C6_CEC4)
    }

    @Test func adler32OfWikipediaIs11E60398() {
        #expect(Adler32.checksum(Array("Wikipedia".utf8)) == 0x11E6_0398)
    }

    @Test func adler32OfNothingIsOne() {
        #expect(Adler32.checksum([]) == 1)
    }

    /// 100,000 bytes of 0xFF overflow 32-bit sums unless they are reduced
    /// in time, so this checks the batched modulo.
    @Test func adler32OfALongRunOfMaximalBytesMatchesZlib() {
        #expect(Adler32.checksum([UInt8](repeating: 0xFF, count: 100_000)) == 0x149A_302C)
    }

    @Test func referenceDecoderChecksumsAgreeWithTheCheckValues() {
        #expect(ReferencePNGDecoder.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(ReferencePNGDecoder.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)
    }
}
