import BenchData
import Foundation
import Testing
@testable import KVServePlot
@testable import Plotting

@Suite struct KVServePlotTests {
    static let curves = DecodeLatencyCurves(
        cached: stride(from: 8.0, to: 2080, by: 16).map { .init(position: $0, milliseconds: 6 + $0 / 400) },
        uncached: [16, 32, 64, 128, 256, 512, 1024, 2048].map { .init(position: $0, milliseconds: 20 + $0 * $0 / 300) },
        llamaCpp: [.init(position: 64, milliseconds: 6.2), .init(position: 2064, milliseconds: 18.5)])

    /// The bench's JSON as `kvserve bench decode` writes it: the Report's
    /// other fields around the shared curves, which the plotter ignores.
    static func benchJSON(_ curves: DecodeLatencyCurves) throws -> Data {
        struct Report: Encodable {
            let model = "SmolLM2-135M-Instruct.Q4_1.gguf"
            let threads = 2
            let readBandwidthGBps = 13.2
            let latencyCurves: DecodeLatencyCurves
            let dataFile = "bench-decode.json"
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(Report(latencyCurves: curves))
    }

    static func count(_ color: Color, in image: PythonPNGDecoder.Image) -> Int {
        image.positions(ofRGB: [color.red, color.green, color.blue]).count
    }

    @Test func outputNamesFollowTheInput() {
        #expect(PlotCommand.outputPaths(input: "runs/bench-decode.json", output: nil) == ("runs/bench-decode.png", "runs/bench-decode-cached.png"))
        #expect(PlotCommand.outputPaths(input: "-", output: nil) == ("bench-decode.png", "bench-decode-cached.png"))
        #expect(PlotCommand.outputPaths(input: "x.json", output: "docs/bench/decode-latency.png")
            == ("docs/bench/decode-latency.png", "docs/bench/decode-latency-cached.png"))
        #expect(PlotCommand.outputPaths(input: "data", output: nil) == ("data.png", "data-cached.png"))
    }

    /// kvserve-plot reads the bench's JSON and writes both plots: the
    /// recomputed curve (red) only on the logarithmic one, the cached curve
    /// (blue) and llama.cpp's averages (green) on both.
    @Test func writesBothPlotsFromTheBenchJSON() throws {
        try PythonPNGDecoder.withTemporaryDirectory { directory in
            let input = directory.appendingPathComponent("bench-decode.json")
            try Self.benchJSON(Self.curves).write(to: input)

            var command = try PlotCommand.parse([input.path])
            try command.run()

            let all = try PythonPNGDecoder.decode(file: directory.appendingPathComponent("bench-decode.png").path)
            let cached = try PythonPNGDecoder.decode(file: directory.appendingPathComponent("bench-decode-cached.png").path)
            for image in [all, cached] {
                #expect(image.width == 900 && image.height == 540)
                #expect(Self.count(.blue, in: image) > 500)
                #expect(Self.count(.green, in: image) > 50)
            }
            #expect(Self.count(.red, in: all) > 200)
            #expect(Self.count(.red, in: cached) == 0)
        }
    }

    @Test func withoutThePeerThereIsNoLlamaCppCurve() throws {
        var curves = Self.curves
        curves.llamaCpp = nil
        let measurements = try JSONDecoder().decode(DecodeBenchMeasurements.self, from: Self.benchJSON(curves))
        #expect(measurements.model == "SmolLM2-135M-Instruct.Q4_1.gguf")
        #expect(DecodeLatencyCharts.withAndWithoutCache(measurements).series.map(\.name)
            == ["kvserve, KV cache", "kvserve, no cache (recompute)"])
        #expect(DecodeLatencyCharts.cachedOnly(measurements).series.map(\.name) == ["kvserve, KV cache"])
        #expect(DecodeLatencyCharts.withAndWithoutCache(measurements).yScale == .logarithmic)
    }

    @Test func otherJSONIsRefused() throws {
        try PythonPNGDecoder.withTemporaryDirectory { directory in
            let input = directory.appendingPathComponent("session.json")
            try Data(#"{"model": "m", "history": 2000}"#.utf8).write(to: input)
            var command = try PlotCommand.parse([input.path])
            #expect(throws: (any Error).self) { try command.run() }
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("session.png").path))
        }
    }
}
