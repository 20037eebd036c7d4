import Foundation
import Testing
@testable import Model

/// Q5_0, Q5_1 and the K-quants against the PyPI gguf package's
/// dequantization (fixtures by scripts/fixtures/make_dequant_fixtures.py).
extension DequantizeTests {
    @Test func syntheticKQuantBlocksMatchTheReference() throws {
        let fixture = try TestResources.decode(DequantFixture.self, "dequant/synthetic-kquants.json")
        let file = try GGUFFile(path: TestResources.fixture("dequant/synthetic-kquants.gguf").path)
        var types: Set<String> = []
        for entry in fixture.tensors {
            let tensor = try file.requireTensor(entry.name)
            #expect(tensor.type.name == entry.type)
            #expect(tensor.shape == entry.shape)
            Self.expectClose(try tensor.dequantized(), try #require(entry.values), entry.name)
            // Row by row too: rows start at whole blocks.
            let expected = try #require(entry.values)
            for row in 0..<tensor.rowCount {
                Self.expectClose(try tensor.dequantizedRow(row),
                                 Array(expected[(row * tensor.rowLength)..<((row + 1) * tensor.rowLength)]), "\(entry.name) row \(row)")
            }
            types.insert(tensor.type.name)
        }
        #expect(types == ["Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"])
    }

    @Test(.enabled(if: TestResources.gemmaPresent, TestResources.gemmaMissingNote))
    func gemmaRowsMatchTheReference() throws {
        let gemma = try TestResources.gemma.get()
        let fixture = try TestResources.decode(DequantFixture.self, "dequant/gemma-rows.json")
        var types: Set<String> = []
        for entry in fixture.tensors {
            let tensor = try gemma.requireTensor(entry.name)
            #expect(tensor.shape == entry.shape)
            for row in try #require(entry.rows) {
                Self.expectClose(try tensor.dequantizedRow(row.index), row.values, "\(tensor.name) row \(row.index)")
            }
            types.insert(tensor.type.name)
        }
        #expect(types == ["Q5_0", "Q4_K", "Q6_K", "Q8_0"])
    }

    /// Q4_K's packed scales by hand: sub-block 5 takes its low four bits
    /// from byte 9 and its top two from bytes 1 (scale) and 5 (minimum).
    @Test func handComputedKScales() {
        var block = [UInt8](repeating: 0, count: 144)
        block[0] = 0x00; block[1] = 0x3C  // d = 1
        block[2] = 0x00; block[3] = 0x38  // dmin = 0.5
        block[4 + 1] = 0b10_000011        // scale 1 = 3; top bits of scale 5 = 2
        block[4 + 5] = 0b01_000111        // minimum 1 = 7; top bits of minimum 5 = 1
        block[4 + 9] = 0x9A               // scale 5 low = 0xA, minimum 5 low = 0x9
        block[16 + 32 * 2 + 7] = 0x50     // sub-block 5 (high nibbles of bytes 64...), column 7: q = 5
        var out = [Float](repeating: .nan, count: 256)
        Dequantize.values(.q4_K, from: block, count: 256, into: &out)
        // Sub-block 5: scale 0b10_1010 = 42, minimum 0b01_1001 = 25.
        #expect(out[5 * 32 + 7] == 42 * 5 - 12.5)
        #expect(out[5 * 32 + 8] == -12.5)
        // Sub-block 1: scale 3, minimum 7; q = 0.
        #expect(out[32] == -3.5)
    }

    /// A K-quant matrix whose rows are not whole super-blocks is refused
    /// with an error naming it.
    @Test func kQuantRowLengthMustBeWholeSuperBlocks() throws {
        var builder = GGUFBuilder()
        builder.tensors = [.init(name: "bad", dims: [128, 2], type: TensorType.q4_K.id, data: [UInt8](repeating: 0, count: 144))]
        #expect(throws: GGUFError.self) { _ = try GGUFBuilder.parse(builder.build()) }
    }
}
