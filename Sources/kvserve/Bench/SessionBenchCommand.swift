import ArgumentParser
import Engine
import Foundation
import KVCache
import Model
import Server

struct SessionBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session",
        abstract: "Time to first token of a follow-up turn whose session history is resident vs evicted (recomputed), and peak memory of the eviction workload."
    )

    @Option(help: "Path of the GGUF model file.")
    var model = Configuration().model

    @Option(help: "Tokens of session history before the measured turn.")
    var history = 2000

    @Option(help: "Repetitions (each with a new session).")
    var repetitions = 3

    @Option(help: "Blocks (of 16 positions) in the pool for the eviction workload: 8 sessions of 4 turns.")
    var evictionBlocks = 32

    @Option(help: "llama.cpp's llama-bench, to measure as a peer in the same run (default: $LLAMA_BENCH).")
    var llamaBench: String?

    @Flag(help: "Print the results as one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard history >= 16, repetitions >= 1, evictionBlocks >= 16 else {
            throw ValidationError("--history and --eviction-blocks must be at least 16, --repetitions at least 1")
        }
    }

    func progress(_ message: String) { BenchOutput.progress(message) }

    struct Report: Encodable {
        struct Eviction: Encodable {
            let sessions: Int, turns: Int, kvCacheBytes: Int, evictions: Int, preemptions: Int
            let peakRSSBytes: Int, modelFileBytes: Int, boundBytes: Int
        }
        struct Turn: Encodable {
            let historyTokens: Int, promptTokens: Int
            let residentCachedTokens: [Int], evictedCachedTokens: [Int]
            let residentMilliseconds: [Double], evictedMilliseconds: [Double]
            let ratio: Double
        }
        struct Peer: Encodable {
            let residentMilliseconds: Double, recomputeMilliseconds: Double, ratio: Double
        }
        let model: String
        let threads: Int
        let eviction: Eviction
        let turn: Turn
        let llamaCpp: Peer?
    }

    func run() throws {
        let file = try ModelFile(path: model)
        let llama = try LlamaModel(file: file)
        let h = file.hyperparameters
        let eos = file.tokenizer.vocabulary.eos

        // The eviction workload first, so that the process's peak RSS is its own.
        progress("eviction workload: 8 sessions x 4 turns in \(evictionBlocks) blocks")
        let smallArena = KVArena(hyperparameters: h, elementType: .f16, blockSize: 16, blockCount: evictionBlocks)
        let evicting = DecodeEngine(model: LlamaPagedModel(model: llama, arena: smallArena), endOfSequence: eos)
        _ = try evicting.converse(ChatWorkload.turns(sessions: 8, turns: 4, file: file), maxTokens: 32)
        let peak = ProcessMemory.peakResidentBytes
        let fileBytes = (try FileManager.default.attributesOfItem(atPath: model)[.size] as? Int) ?? 0
        let eviction = Report.Eviction(
            sessions: 8, turns: 4, kvCacheBytes: smallArena.byteCount,
            evictions: evicting.cache.usage.evictions, preemptions: evicting.cache.usage.counters.preemptions,
            peakRSSBytes: peak, modelFileBytes: fileBytes, boundBytes: fileBytes + smallArena.byteCount + 64 << 20)

        // Time to first token of a turn after `history` tokens.
        let followUp = ChatWorkload.followUp("Which record mentions river 3?", file: file)
        // Each repetition opens differently, so none finds another's blocks.
        let openings = (0..<repetitions).map { longOpening(set: $0, file: file) }
        let opening = openings.max { $0.count < $1.count }!
        let poolTokens = opening.count + 2 * (followUp.count + 1) + 64
        let arena = KVArena(hyperparameters: h, elementType: .f16, blockSize: 16, blockCount: (poolTokens + 15) / 16)
        let engine = DecodeEngine(model: LlamaPagedModel(model: llama, arena: arena), endOfSequence: eos)
        var resident: [(ms: Double, cached: Int)] = [], evicted: [(ms: Double, cached: Int)] = []
        for r in 0..<repetitions {
            let session = "bench-\(r)"
            progress("repetition \(r + 1) of \(repetitions): \(openings[r].count) tokens of history")
            _ = try firstToken(engine, openings[r], session: session)
            progress("  follow-up with the history resident")
            resident.append(try firstToken(engine, followUp, session: session))
            progress("  another request takes every block; follow-up with the history evicted")
            _ = try firstToken(engine, [TokenID](repeating: TokenID(100 + r), count: arena.blockCount * 16 - 1), session: nil)
            evicted.append(try firstToken(engine, followUp, session: session))
        }
        let turn = Report.Turn(
            historyTokens: openings[0].count + 1, promptTokens: followUp.count,
            residentCachedTokens: resident.map(\.cached), evictedCachedTokens: evicted.map(\.cached),
            residentMilliseconds: resident.map(\.ms), evictedMilliseconds: evicted.map(\.ms),
            ratio: evicted.map(\.ms).median / resident.map(\.ms).median)

        var peer: Report.Peer?
        if let executable = llamaBench ?? ProcessInfo.processInfo.environment["LLAMA_BENCH"] {
            let runner = LlamaBenchPeer(executable: executable, model: model, threads: WorkerPool.shared.threadCount)
            progress("llama-bench: pp\(followUp.count) at depth \(turn.historyTokens) (a resident turn)")
            let warm = try runner.run(prompt: followUp.count, generate: 0, depth: turn.historyTokens, repetitions: repetitions)
            progress("llama-bench: pp\(turn.historyTokens + followUp.count) (the history recomputed)")
            let cold = try runner.run(prompt: turn.historyTokens + followUp.count, generate: 0, repetitions: repetitions)
            let warmMs = Double(followUp.count) / warm.avg_ts * 1000
            let coldMs = Double(turn.historyTokens + followUp.count) / cold.avg_ts * 1000
            peer = Report.Peer(residentMilliseconds: warmMs, recomputeMilliseconds: coldMs, ratio: coldMs / warmMs)
        }

        let report = Report(model: (model as NSString).lastPathComponent, threads: WorkerPool.shared.threadCount,
                            eviction: eviction, turn: turn, llamaCpp: peer)
        if json {
            try BenchOutput.printJSON(report)
        } else {
            print(table(report))
        }
    }

    /// Runs one turn to its first token (end-of-sequence ignored) and returns
    /// the time from submission to that token, and the positions found cached.
    func firstToken(_ engine: DecodeEngine, _ prompt: [TokenID], session: String?) throws -> (ms: Double, cached: Int) {
        var greedy = SamplingParameters.greedy
        greedy.seed = 0
        let start = DispatchTime.now().uptimeNanoseconds
        let id = try engine.submit(GenerationRequest(prompt: prompt, sessionID: session, maxTokens: 1, sampling: greedy, ignoreEOS: true))
        var elapsed: Double?
        while engine.hasWork {
            for event in engine.step() {
                if case .token(id, _, _, _) = event, elapsed == nil {
                    elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                }
                if case let .finished(id2, completion) = event, id2 == id { return (elapsed ?? .nan, completion.cachedTokens) }
            }
        }
        throw ValidationError("the turn never finished")
    }

    /// A chat opening of at least `history` tokens: a system prompt and a long
    /// user message of numbered records.
    func longOpening(set: Int, file: ModelFile) -> [TokenID] {
        let colours = ["red", "green", "blue", "amber", "grey", "white", "black"]
        let animals = ["fox", "heron", "otter", "badger", "lynx", "crane", "stoat", "hare"]
        var text = "Here is record set \(set + 1). Read it carefully.\n"
        var tokens: [TokenID] = []
        var i = 0
        while tokens.count < history {
            for _ in 0..<2 {
                text += "Record \(i): the \(colours[i % colours.count]) \(animals[i % animals.count]) crossed river \(i % 17) at \(i % 24) o'clock.\n"
                i += 1
            }
            let rendered = file.chatTemplate.render([
                ChatMessage(role: "system", content: "You are a helpful assistant who answers briefly."),
                ChatMessage(role: "user", content: text),
            ], addGenerationPrompt: true)
            tokens = file.tokenizer.encode(rendered, addSpecial: true, parseSpecial: true)
        }
        return tokens
    }

    func table(_ r: Report) -> String {
        func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        func ms(_ values: [Double]) -> String { values.map { String(format: "%.1f", $0) }.joined(separator: ", ") }
        var lines = ["model \(r.model), \(r.threads) threads", ""]
        let e = r.eviction
        lines.append("eviction workload: \(e.sessions) sessions x \(e.turns) turns, kv_cache_bytes \(mib(e.kvCacheBytes)), \(e.evictions) evictions, \(e.preemptions) preemptions")
        lines.append("  peak RSS \(mib(e.peakRSSBytes)); bound (model file \(mib(e.modelFileBytes)) + kv_cache_bytes + 64 MiB) \(mib(e.boundBytes)): \(e.peakRSSBytes <= e.boundBytes ? "within" : "EXCEEDED")")
        lines.append("")
        let t = r.turn
        lines.append("follow-up turn of \(t.promptTokens) tokens after \(t.historyTokens) tokens of history, time to first token (ms):")
        lines.append("  history resident: \(ms(t.residentMilliseconds))  (cached tokens \(t.residentCachedTokens.map(String.init).joined(separator: ", ")))")
        lines.append("  history evicted:  \(ms(t.evictedMilliseconds))  (cached tokens \(t.evictedCachedTokens.map(String.init).joined(separator: ", ")))")
        lines.append(String(format: "  evicted / resident (medians): %.1fx", t.ratio))
        if let p = r.llamaCpp {
            lines.append(String(format: "llama.cpp (llama-bench): pp%d at depth %d %.1f ms, pp%d %.1f ms: %.1fx",
                                t.promptTokens, t.historyTokens, p.residentMilliseconds, t.historyTokens + t.promptTokens,
                                p.recomputeMilliseconds, p.ratio))
            lines.append(String(format: "kvserve vs llama.cpp: resident turn %.2fx, recomputed %.2fx (llama.cpp time / kvserve time)",
                                p.residentMilliseconds / t.residentMilliseconds.median, p.recomputeMilliseconds / t.evictedMilliseconds.median))
        }
        return lines.joined(separator: "\n")
    }
}
