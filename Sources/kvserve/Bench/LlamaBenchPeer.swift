import Foundation

/// llama.cpp's `llama-bench`, run as a peer in the same benchmark run.
struct LlamaBenchPeer {
    let executable: String
    let model: String
    let threads: Int

    struct Result: Decodable {
        let n_prompt: Int
        let n_gen: Int
        let n_depth: Int?
        let avg_ts: Double
        let stddev_ts: Double
    }

    enum Failure: Error, CustomStringConvertible {
        case failed(command: String, status: Int32, output: String)
        case unreadable(command: String, output: String)

        var description: String {
            switch self {
            case let .failed(command, status, output): "\(command) exited with status \(status): \(output.suffix(500))"
            case let .unreadable(command, output): "could not read the JSON of \(command): \(output.prefix(500))"
            }
        }
    }

    /// Runs llama-bench for prompt processing (`prompt` tokens) or generation
    /// (`generate` tokens after `depth` tokens of context).
    func run(prompt: Int, generate: Int, depth: Int = 0, repetitions: Int = 3) throws -> Result {
        let arguments = ["-m", model, "-t", String(threads), "-p", String(prompt), "-n", String(generate),
                         "-d", String(depth), "-r", String(repetitions), "-o", "json"]
        let command = ([executable] + arguments).joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // stderr goes to a file: llama-bench logs a lot there, and a full pipe
        // nobody reads would block it.
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-llama-bench-\(getpid()).log")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let errorText = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
            throw Failure.failed(command: command, status: process.terminationStatus, output: errorText)
        }
        guard let results = try? JSONDecoder().decode([Result].self, from: data), let first = results.first else {
            throw Failure.unreadable(command: command, output: String(decoding: data, as: UTF8.self))
        }
        return first
    }
}
