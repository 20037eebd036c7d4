import ArgumentParser
import BenchData
import Foundation
import Model
import Server

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks (not tests): measure kvserve against llama.cpp on this machine.",
        subcommands: [DecodeBenchCommand.self, SessionBenchCommand.self, HTTPBenchCommand.self, KernelBenchCommand.self, MatrixBenchCommand.self, ConstraintBenchCommand.self, DraftBenchCommand.self],
        defaultSubcommand: DecodeBenchCommand.self
    )
}

struct DecodeBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Prefill and decode speed with and without the KV cache, a table and the latency per position as JSON for kvserve-plot."
    )

    @Option(help: "Path of the GGUF model file.")
    var model = Configuration().model

    @Option(help: "Prompt lengths for the prefill measurements (comma-separated), like llama-bench's ppN.")
    var promptTokens = "512,2048"

    @Option(help: "Contexts at which decoding is measured (comma-separated); the first is measured as positions 0..<N like llama-bench's tgN, the others as 32 tokens after N of context.")
    var contexts = "128,2048"

    @Option(help: "How the K/V cache stores keys and values: f16, q8_0 or f32 (as the server's kv_cache_type).")
    var kvCacheType = Configuration().kvCacheType

    @Option(help: "Repetitions of each prefill measurement.")
    var repetitions = 3

    @Option(help: "Where to write the results as JSON (the --json object, per-token latency against position included); kvserve-plot draws it.")
    var data = "bench-decode.json"

    @Option(help: "llama.cpp's llama-bench, to measure as a peer in the same run (default: $LLAMA_BENCH).")
    var llamaBench: String?

    @Flag(help: "Print the results as one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1") }
        guard KVElementType(rawValue: kvCacheType) != nil else {
            throw ValidationError("--kv-cache-type must be one of \(KVElementType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let prompts = Self.positiveList(promptTokens), !prompts.isEmpty else {
            throw ValidationError("--prompt-tokens must be a comma-separated list of positive integers, e.g. 512,2048")
        }
        guard let list = parsedContexts, !list.isEmpty, list.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--contexts must be a comma-separated list of positive integers, e.g. 128,2048")
        }
    }

    var parsedContexts: [Int]? { Self.positiveList(contexts) }

    static func positiveList(_ text: String) -> [Int]? {
        let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        return parts.contains(nil) || parts.contains(where: { $0! < 1 }) ? nil : parts.map { $0! }
    }

    static let decodeWindow = 32

    func progress(_ message: String) { BenchOutput.progress(message) }

    func run() throws {
        let contexts = parsedContexts!, prompts = Self.positiveList(promptTokens)!
        let file = try ModelFile(path: model)
        let llama = try DecoderModel(file: file)
        var bench = DecodeBenchmark(model: llama, elementType: KVElementType(rawValue: kvCacheType)!)
        progress("K/V cache: \(kvCacheType)")
        let threads = WorkerPool.shared.threadCount
        let context = file.hyperparameters.contextLength
        let longest = max(contexts.dropFirst().map { $0 + Self.decodeWindow }.max() ?? 0, contexts[0])
        guard longest <= context, prompts.max()! <= context else {
            throw ValidationError("the model's context is \(context) tokens; --contexts and --prompt-tokens must fit in it")
        }

        progress("warming up")
        _ = bench.prefill(64, repetitions: 1)
        var prefill: [(tokens: Int, rates: [Double])] = []
        for n in prompts {
            progress("prefill of \(n) tokens, \(repetitions) times")
            prefill.append((n, bench.prefill(n, repetitions: repetitions).map { Double(n) / $0 }))
        }

        progress("cached decoding, positions 0..<\(longest), one token per step")
        let steps = bench.cachedSteps(longest) { progress("  position \($0) of \(longest)") }
        var decode: [(context: Int, range: Range<Int>, tokensPerSecond: Double)] = []
        for (k, c) in contexts.enumerated() {
            let range = k == 0 ? 0..<c : c..<(c + Self.decodeWindow)
            decode.append((c, range, Double(range.count) / steps[range].reduce(0, +)))
        }
        // Latency at a position: the median over the 32 positions around it.
        func latency(at p: Int) -> Double { Array(steps[max(0, p - 16)..<min(steps.count, p + 16)]).median }

        let uncachedPositions = Array(Set([16, 32, 64, 128, 256, 512, 1024] + contexts).filter { $0 < longest }).sorted()
        var uncached: [(position: Int, seconds: Double)] = []
        for p in uncachedPositions {
            progress("without cache: recomputing \(p + 1) tokens for the token at position \(p)")
            uncached.append((p, bench.uncachedStep(at: p)))
        }

        progress("read bandwidth")
        let bandwidth = ReadBandwidth.measure()
        progress("8-bit multiply-accumulate peak")
        let peak = MultiplyAccumulatePeak.measure()
        let weightBytes = file.gguf.tensors.reduce(0) { $0 + $1.data.count }
        let bound = bandwidth / Double(weightBytes)

        var peer: (prefill: [LlamaBenchPeer.Result], decode: [LlamaBenchPeer.Result])? = nil
        if let executable = llamaBench ?? ProcessInfo.processInfo.environment["LLAMA_BENCH"] {
            let runner = LlamaBenchPeer(executable: executable, model: model, threads: threads)
            var p: [LlamaBenchPeer.Result] = []
            for n in prompts {
                progress("llama-bench: pp\(n)")
                p.append(try runner.run(prompt: n, generate: 0, repetitions: repetitions))
            }
            var d: [LlamaBenchPeer.Result] = []
            for (k, c) in contexts.enumerated() {
                progress(k == 0 ? "llama-bench: tg\(c)" : "llama-bench: tg\(Self.decodeWindow) at depth \(c)")
                d.append(try runner.run(prompt: 0, generate: k == 0 ? c : Self.decodeWindow, depth: k == 0 ? 0 : c, repetitions: repetitions))
            }
            peer = (p, d)
        }

        let report = Report(
            model: (model as NSString).lastPathComponent, threads: threads,
            prefill: prefill.map { .init(tokens: $0.tokens, tokensPerSecond: $0.rates.mean, standardDeviation: $0.rates.standardDeviation) },
            decode: decode.map { d in
                .init(context: d.context, firstPosition: d.range.lowerBound, tokens: d.range.count, tokensPerSecond: d.tokensPerSecond,
                      uncachedTokensPerSecond: uncached.first { $0.position == d.context }.map { 1 / $0.seconds })
            },
            latencyMilliseconds: contexts.map { .init(position: $0, milliseconds: latency(at: $0) * 1000) },
            readBandwidthGBps: bandwidth / 1e9, weightBytesPerToken: weightBytes, bandwidthBoundTokensPerSecond: bound,
            multiplyAccumulatePeakGMACs: peak / 1e9, multiplyAccumulatesPerToken: llama.matrixMultiplyAccumulatesPerToken,
            llamaCpp: peer.map { p in
                .init(prefillTokensPerSecond: p.prefill.map(\.avg_ts), prefillStandardDeviation: p.prefill.map(\.stddev_ts),
                      decodeTokensPerSecond: p.decode.map(\.avg_ts), decodeStandardDeviation: p.decode.map(\.stddev_ts))
            },
            latencyCurves: latencyCurves(steps: steps, uncached: uncached, peer: peer?.decode, contexts: contexts),
            dataFile: data)
        try BenchOutput.json(report).write(to: URL(fileURLWithPath: data))
        if json {
            try BenchOutput.printJSON(report)
        } else {
            print(report.table)
        }
    }

    func latencyCurves(steps: [Double], uncached: [(position: Int, seconds: Double)], peer: [LlamaBenchPeer.Result]?,
                       contexts: [Int]) -> DecodeLatencyCurves {
        // The cached curve: the median of each run of 16 positions, which
        // keeps its shape and drops scheduler noise.
        var cached: [DecodeLatencyCurves.Point] = []
        for start in stride(from: 0, to: steps.count, by: 16) {
            let window = Array(steps[start..<min(steps.count, start + 16)])
            cached.append(.init(position: Double(start) + Double(window.count) / 2, milliseconds: window.median * 1000))
        }
        let peerPoints = peer.map { results in
            results.enumerated().map { k, r in
                DecodeLatencyCurves.Point(
                    position: k == 0 ? Double(contexts[0]) / 2 : Double(contexts[k] + Self.decodeWindow / 2),
                    milliseconds: 1000 / r.avg_ts)
            }
        }
        return DecodeLatencyCurves(cached: cached,
                                   uncached: uncached.map { .init(position: Double($0.position), milliseconds: $0.seconds * 1000) },
                                   llamaCpp: peerPoints)
    }
}
