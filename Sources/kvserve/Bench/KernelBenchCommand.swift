import ArgumentParser
import Foundation
import Model
import Server

/// Time per call of each distinct matrix-vector product of one token, so a
/// kernel change can be judged without the rest of the forward pass.
struct KernelBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Microseconds per matrix-vector product for each matrix shape of the model."
    )

    @Option(help: "Path of the GGUF model file.")
    var model = Configuration().model

    @Option(help: "Calls per measurement.")
    var calls = 2000

    func run() throws {
        let file = try ModelFile(path: model)
        let llama = try DecoderModel(file: file)
        print("| matrix | type | rows x columns | us per call | GB/s |")
        print("|---|---|---|---|---|")
        var totalPerToken = 0.0
        for (name, matrix, perToken) in llama.benchmarkMatrices {
            let seconds = llama.timeMultiply(matrix, calls: calls) / Double(calls)
            totalPerToken += seconds * Double(perToken)
            print("| \(name) | \(matrix.type.name) | \(matrix.rows) x \(matrix.columns) | \(String(format: "%.1f", seconds * 1e6)) | \(String(format: "%.1f", Double(matrix.byteCount) / seconds / 1e9)) |")
        }
        print("\nAll matrix products of one token (each shape's time x its count): \(String(format: "%.2f", totalPerToken * 1e3)) ms, \(String(format: "%.0f", 1 / totalPerToken)) tokens/s if nothing else took time.")
    }
}
