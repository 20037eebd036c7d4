import ArgumentParser
import Foundation
import Model
import Server

/// What checking a draft costs: one forward pass over the last token and
/// k drafted ones, with logits for all of them, against a one-token step at
/// the same depth. The marginal cost of a position, as a share of the step,
/// is what `SpeculationGate.positionCost` assumes.
struct DraftBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "draft",
        abstract: "Milliseconds per forward pass of 1 + k positions (a draft being checked) at a given depth."
    )

    @Option(help: "Path of the GGUF model file.")
    var model = Configuration().model

    @Option(help: "Positions already in the cache.")
    var depth = 256

    @Option(help: "Passes per draft length (the median is reported).")
    var repetitions = 40

    @Option(help: "Draft lengths to time, comma-separated.")
    var lengths = "0,1,2,4,8,16"

    func run() throws {
        let file = try ModelFile(path: model)
        let llama = try DecoderModel(file: file)
        var bench = DecodeBenchmark(model: llama)
        let drafts = lengths.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard let longest = drafts.max(), longest >= 0 else { throw ValidationError("--lengths: comma-separated counts") }
        let (cache, table) = bench.arena(positions: depth + longest + 1)
        _ = llama.forward([ForwardSequence(tokens: bench.randomTokens(depth), startPosition: 0, blockTable: table)], cache: cache)
        print("| draft k | ms per pass | ms per position past the first | share of a one-token step |")
        print("|---|---|---|---|")
        var step = Double.nan
        for k in drafts {
            let tokens = bench.randomTokens(k + 1)
            let times = (0..<repetitions).map { _ in
                DecodeBenchmark.seconds {
                    _ = llama.forward([ForwardSequence(tokens: tokens, startPosition: depth, blockTable: table, logitRows: k + 1)], cache: cache)
                }
            }
            let ms = times.median * 1e3
            if k == 0 { step = ms }
            let marginal = k == 0 ? Double.nan : (ms - step) / Double(k)
            print("| \(k) | \(String(format: "%.2f", ms)) | \(k == 0 ? "-" : String(format: "%.2f", marginal)) | \(k == 0 ? "-" : String(format: "%.2f", marginal / step)) |")
        }
    }
}
