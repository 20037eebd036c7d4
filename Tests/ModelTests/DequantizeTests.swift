import Foundation
import Testing
@testable import Model

/// Dequantization against the PyPI gguf package's (fixtures made by
/// scripts/fixtures/make_dequant_fixtures.py).
@Suite struct DequantizeTests {
    /// Elementwise agreement within 1e-6 (relative for large values).
    static func expectClose(_ actual: [Float], _ expected: [Double], _ what: String) {
        #expect(actual.count == expected.count, "\(what): length")
        var worst = 0.0, worstIndex = -1
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            let error = abs(Double(a) - e) / max(1, abs(e))
            if !(error <= worst) { worst = error; worstIndex = i }
        }
        #expect(worst <= 1e-6, "\(what): element \(worstIndex) is off by \(worst)")
    }

    @Test func syntheticFileCoversEveryComputableType() throws {
        let fixture = try TestResources.decode(DequantFixture.self, "dequant/synthetic-types.json")
        let file = try GGUFFile(path: TestResources.fixture("dequant/synthetic-types.gguf").path)
        var types: Set<String> = []
        for entry in fixture.tensors {
            let tensor = try file.requireTensor(entry.name)
            #expect(tensor.type.name == entry.type)
            #expect(tensor.shape == entry.shape)
            Self.expectClose(try tensor.dequantized(), try #require(entry.values), entry.name)
            if tensor.type == .bf16 {
                // A bfloat16 widens exactly: the very bits gguf gives.
                #expect(try tensor.dequantized().map(\.bitPattern) == entry.values?.map { Float($0).bitPattern })
            }
            types.insert(tensor.type.name)
        }
        #expect(types == ["F32", "F16", "Q4_0", "Q4_1", "Q8_0", "BF16"])
    }

    @Test(.enabled(if: TestResources.modelTestsEnabled, TestResources.modelMissingNote))
    func realModelRowsMatchTheReference() throws {
        let model = try TestResources.requireModel()
        let fixture = try TestResources.decode(DequantFixture.self, "dequant/smollm2-rows.json")
        var types: Set<String> = []
        for entry in fixture.tensors {
            let tensor = try model.gguf.requireTensor(entry.name)
            #expect(tensor.shape == entry.shape)
            for row in try #require(entry.rows) {
                Self.expectClose(try tensor.dequantizedRow(row.index), row.values, "\(tensor.name) row \(row.index)")
            }
            types.insert(tensor.type.name)
        }
        #expect(types == ["F32", "Q4_1", "Q8_0"])
    }

    /// Hand-computed blocks, independent of any fixture.
    @Test func handComputedBlocks() {
        // Q4_1: d = 0.5, m = -1; byte 0x21 holds q=1 (low nibble, value j)
        // and q=2 (high nibble, value j+16).
        var block: [UInt8] = [0x00, 0x38, 0x00, 0xBC] + Array(repeating: 0, count: 16)
        block[4] = 0x21
        var out = [Float](repeating: .nan, count: 32)
        Dequantize.values(.q4_1, from: block, count: 32, into: &out)
        #expect(out[0] == -0.5 && out[16] == 0 && out[1] == -1 && out[31] == -1)
        // Q4_0: d = 2; q=0 -> -16, q=15 -> 14.
        var q40: [UInt8] = [0x00, 0x40] + Array(repeating: 0x88, count: 16)
        q40[2] = 0xF0
        Dequantize.values(.q4_0, from: q40, count: 32, into: &out)
        #expect(out[0] == -16 && out[16] == 14 && out[1] == 0)
    }
}
