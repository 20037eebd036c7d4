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
        #expect(types == ["Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K", "Q2_K", "Q3_K"])
    }

    /// Q2_K and Q3_K (Q3_K repacked as Q6_K panels), file rows and panel
    /// rows alike, to the bit of the gguf package's float32 values.
    @Test(arguments: ["t_q2_k", "t_q3_k"])
    func twoAndThreeBitRowsAreBitExact(_ name: String) throws {
        let fixture = try TestResources.decode(DequantFixture.self, "dequant/synthetic-kquants.json")
        let file = try GGUFFile(path: TestResources.fixture("dequant/synthetic-kquants.gguf").path)
        let entry = try #require(fixture.tensors.first { $0.name == name })
        let expected = try #require(entry.values).map { Float($0).bitPattern }
        let tensor = try file.requireTensor(name)
        #expect(try tensor.dequantized().map(\.bitPattern) == expected)
        let matrix = try WeightMatrix(tensor), format = try #require(PanelFormat(tensor.type))
        let memory = UnsafeMutableRawPointer.allocate(byteCount: matrix.byteCount(as: format), alignment: 64)
        defer { memory.deallocate() }
        let panels = matrix.copied(to: memory, as: format)
        var rows: [UInt32] = []
        for r in 0..<matrix.rows {
            var row = [Float](repeating: .nan, count: matrix.columns)
            row.withUnsafeMutableBufferPointer { panels.copyRow(r, into: $0.baseAddress!) }
            rows += row.map(\.bitPattern)
        }
        #expect(rows == expected, "\(name) from panels")
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

    /// Q3_K by hand: sub-block 9 takes the low four bits of its scale from
    /// the high nibble of byte 1 of the scales and its top two from bits 4-5
    /// of byte 9; a clear hmask bit takes 4 off the 2-bit value.
    @Test func handComputedQ3K() {
        var block = [UInt8](repeating: 0, count: 110)
        block[108] = 0x00; block[109] = 0x3C  // d = 1
        block[96 + 1] = 0x50                  // scale 9 low bits = 5
        block[96 + 9] = 0x20                  // scale 9 top bits = 2: 37 - 32 = 5
        block[32 + 32 + 22] = 0x03            // column 128 + 22 = 150 (sub-block 9): low bits 3
        block[22] = 1 << 4                    // hmask bit of column 150 (bit 150 / 32 of byte 150 % 32)
        block[32 + 32 + 23] = 0x02            // column 151: low bits 2, hmask bit clear
        var out = [Float](repeating: .nan, count: 256)
        Dequantize.values(.q3_K, from: block, count: 256, into: &out)
        #expect(out[150] == 5 * 3)
        #expect(out[151] == 5 * (2 - 4))
        #expect(out[152] == 5 * -4)
        // Every other sub-block: scale 0 - 32, value 0 - 4.
        #expect(out[0] == 128)
    }

    /// Q2_K by hand: sub-block 5's scale and minimum are the nibbles of
    /// byte 5; column 85 is bits 4-5 of qs byte 21.
    @Test func handComputedQ2K() {
        var block = [UInt8](repeating: 0, count: 84)
        block[80] = 0x00; block[81] = 0x3C  // d = 1
        block[82] = 0x00; block[83] = 0x38  // dmin = 0.5
        block[5] = 0x73                     // scale 3, minimum 7
        block[16 + 21] = 0x20               // column 85: q = 2
        var out = [Float](repeating: .nan, count: 256)
        Dequantize.values(.q2_K, from: block, count: 256, into: &out)
        #expect(out[85] == 3 * 2 - 3.5)
        #expect(out[86] == -3.5)
        #expect(out[0] == 0)
    }

    /// A K-quant matrix whose rows are not whole super-blocks is refused
    /// with an error naming it.
    @Test func kQuantRowLengthMustBeWholeSuperBlocks() throws {
        var builder = GGUFBuilder()
        builder.tensors = [.init(name: "bad", dims: [128, 2], type: TensorType.q4_K.id, data: [UInt8](repeating: 0, count: 144))]
        #expect(throws: GGUFError.self) { _ = try GGUFBuilder.parse(builder.build()) }
    }
}
