import ArgumentParser
import Foundation

/// Draws what `kvserve bench decode` measured; kept out of the server binary.
@main
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvserve-plot",
        abstract: "Draws the per-token decode latency of `kvserve bench decode` against position as two PNG plots.",
        discussion: """
            Reads the JSON the bench wrote (its --data file, or what it printed with --json) and writes \
            OUTPUT with and without the KV cache on a logarithmic axis, and OUTPUT-cached.png with the \
            cache alone on a linear one.
            """
    )

    @Argument(help: "The bench's JSON; - reads standard input.")
    var input = "bench-decode.json"

    @Option(help: "Where to write the first plot (default: INPUT with .png for .json; bench-decode.png for standard input).")
    var output: String?

    func run() throws {
        let data = input == "-"
            ? FileHandle.standardInput.readDataToEndOfFile()
            : try Data(contentsOf: URL(fileURLWithPath: input))
        let measurements: DecodeBenchMeasurements
        do {
            measurements = try JSONDecoder().decode(DecodeBenchMeasurements.self, from: data)
        } catch {
            throw ValidationError("\(input) is not the JSON of `kvserve bench decode`: \(error)")
        }
        let paths = Self.outputPaths(input: input, output: output)
        try Data(DecodeLatencyCharts.withAndWithoutCache(measurements).png()).write(to: URL(fileURLWithPath: paths.all))
        try Data(DecodeLatencyCharts.cachedOnly(measurements).png()).write(to: URL(fileURLWithPath: paths.cached))
        print(paths.all)
        print(paths.cached)
    }

    /// bench-decode.json -> bench-decode.png and bench-decode-cached.png.
    static func outputPaths(input: String, output: String?) -> (all: String, cached: String) {
        let all = output ?? (input == "-" ? "bench-decode.png" : stem(input, dropping: ".json") + ".png")
        return (all, stem(all, dropping: ".png") + "-cached.png")
    }

    private static func stem(_ path: String, dropping suffix: String) -> String {
        path.hasSuffix(suffix) ? String(path.dropLast(suffix.count)) : path
    }
}
