import ArgumentParser
import Foundation
import Model
import Server

/// Per-matrix product times for any tensors of any GGUF file, built straight
/// from the file (no model of its architecture needed): kernels of types a
/// loadable model does not use can be compared with those it does.
struct MatrixBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matrices",
        abstract: "Microseconds per one-token product and GB/s streamed, for named tensors of a GGUF file."
    )

    @Option(help: "Path of the GGUF file.")
    var model = Configuration().model

    @Option(help: "Tensors to time (comma-separated); default: the 2-D tensors of layer 0.")
    var tensors: String?

    @Option(help: "Activations: int8 (the default, panels) or float (exact, the file's rows).")
    var precision = "int8"

    @Option(help: "Calls per measurement.")
    var calls = 2000

    func validate() throws {
        guard ["int8", "float"].contains(precision) else { throw ValidationError("--precision must be int8 or float") }
        guard calls >= 1 else { throw ValidationError("--calls must be at least 1") }
    }

    func run() throws {
        let file = try GGUFFile(path: model)
        var names: [String] = file.tensors.filter { $0.name.hasPrefix("blk.0.") && $0.shape.count == 2 }.map(\.name)
        if let tensors {
            names = tensors.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        print("| tensor | type | rows x columns | layout | bytes/weight | us per call | GB/s |")
        print("|---|---|---|---|---|---|---|")
        for name in names {
            let bench = try MatrixBenchmark(file.requireTensor(name), int8: precision == "int8")
            let m = bench.matrix, seconds = bench.secondsPerProduct(calls: calls)
            let layout = bench.int8 ? "panels" : "file rows"
            print("| \(name) | \(m.type.name) | \(m.rows) x \(m.columns) | \(layout) | \(String(format: "%.4f", bench.bytesPerWeight)) | \(String(format: "%.1f", seconds * 1e6)) | \(String(format: "%.1f", Double(m.byteCount) / seconds / 1e9)) |")
        }
    }
}
