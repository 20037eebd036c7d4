import ArgumentParser
import Engine
import Foundation
import KVCache
import Model
import Server
import KVDisk

struct SessionBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session",
        abstract: "Time to first token of a follow-up turn whose session history is resident, on the disk tier (page cache dropped), recomputed, and after a restart; and peak memory of the eviction workload with a disk tier 10x the RAM pool."
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

    @Option(help: "Directory for the disk tier's file (on the disk to measure; removed afterwards).")
    var diskDirectory = FileManager.default.temporaryDirectory.path

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
            let sessions: Int, turns: Int, kvCacheBytes: Int, kvDiskBytes: Int, evictions: Int, preemptions: Int
            let diskBlocksRead: Int, diskBlocksWritten: Int
            let peakRSSBytes: Int, modelFileBytes: Int, boundBytes: Int
        }
        struct Turn: Encodable {
            let historyTokens: Int, promptTokens: Int
            let residentCachedTokens: [Int], evictedCachedTokens: [Int]
            let residentMilliseconds: [Double], evictedMilliseconds: [Double]
            let ratio: Double
            /// The history on the disk tier, its pages dropped from the page
            /// cache first; and the same after a restart (a new engine and
            /// tier over the same file).
            let diskCachedTokens: [Int], diskMilliseconds: [Double]
            let restartDiskCachedTokens: [Int], restartMilliseconds: [Double]
            /// Recomputed over read back from disk (medians).
            let diskRatio: Double
            /// Sequential read of the tier file with its pages dropped first.
            let diskReadMegabytesPerSecond: Double
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
        let llama = try DecoderModel(file: file)
        let h = file.hyperparameters
        let eos = file.endOfGeneration

        // The eviction workload first, so that the process's peak RSS is its own.
        progress("eviction workload: 8 sessions x 4 turns in \(evictionBlocks) blocks, a disk tier of 10x that")
        let smallArena = KVArena(hyperparameters: h, elementType: .f16, blockSize: 16, blockCount: evictionBlocks)
        let evictionTier = try tier(arena: smallArena, slots: 10 * evictionBlocks, name: "eviction")
        defer { try? FileManager.default.removeItem(atPath: evictionTier.file.path) }
        var limits = DecodeEngine.Limits()
        limits.maxBatchSequences = 4
        let evicting = DecodeEngine(model: PagedDecoderModel(model: llama, arena: smallArena), endOfGeneration: eos, limits: limits,
                                    diskTier: evictionTier)
        _ = try evicting.converse(try ChatWorkload.turns(sessions: 8, turns: 4, file: file), maxTokens: 32)
        evictionTier.waitForWrites()
        let peak = ProcessMemory.peakResidentBytes
        let fileBytes = (try FileManager.default.attributesOfItem(atPath: model)[.size] as? Int) ?? 0
        let slotBytes = evictionTier.file.layout.slotBytes
        let eviction = Report.Eviction(
            sessions: 8, turns: 4, kvCacheBytes: smallArena.byteCount, kvDiskBytes: 4096 + 10 * evictionBlocks * slotBytes,
            evictions: evicting.cache.usage.evictions, preemptions: evicting.cache.usage.counters.preemptions,
            diskBlocksRead: evictionTier.counters.bytesRead / slotBytes, diskBlocksWritten: evictionTier.counters.bytesWritten / slotBytes,
            peakRSSBytes: peak, modelFileBytes: fileBytes, boundBytes: fileBytes + smallArena.byteCount + 64 << 20)

        // Time to first token of a turn after `history` tokens.
        let followUp = ChatWorkload.followUp("Which record mentions river 3?", file: file)
        // Each repetition opens differently, so none finds another's blocks.
        let openings = try (0..<repetitions).map { try longOpening(set: $0, file: file) }
        let opening = openings.max { $0.count < $1.count }!
        let poolTokens = opening.count + 2 * (followUp.count + 1) + 64
        let arena = KVArena(hyperparameters: h, elementType: .f16, blockSize: 16, blockCount: (poolTokens + 15) / 16)
        let engine = DecodeEngine(model: PagedDecoderModel(model: llama, arena: arena), endOfGeneration: eos)
        var resident: [(ms: Double, cached: Int, disk: Int)] = [], evicted: [(ms: Double, cached: Int, disk: Int)] = []
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

        // The same turns with a disk tier: evicted histories are read back.
        let diskArena = KVArena(hyperparameters: h, elementType: .f16, blockSize: 16, blockCount: arena.blockCount)
        // Room on disk for every history and every filler that evicts one.
        let diskTier = try tier(arena: diskArena, slots: 2 * repetitions * (poolTokens / 16 + 8), name: "session")
        defer { try? FileManager.default.removeItem(atPath: diskTier.file.path) }
        var tiered = DecodeEngine(model: PagedDecoderModel(model: llama, arena: diskArena), endOfGeneration: eos, diskTier: diskTier)
        var fromDisk: [(ms: Double, cached: Int, disk: Int)] = []
        for r in 0..<repetitions {
            let session = "bench-disk-\(r)"
            progress("disk tier, repetition \(r + 1) of \(repetitions): history, then every block evicted to disk")
            _ = try firstToken(tiered, openings[r], session: session)
            _ = try firstToken(tiered, [TokenID](repeating: TokenID(200 + r), count: diskArena.blockCount * 16 - 1), session: nil)
            diskTier.waitForWrites()
            diskTier.file.dropPageCache()
            progress("  follow-up with the history on disk, page cache dropped")
            fromDisk.append(try firstToken(tiered, followUp, session: session))
        }
        // A restart: a new engine and tier over the same file, the sessions
        // put back from their ids (what the session store keeps).
        let kept = (0..<repetitions).map { tiered.sessions["bench-disk-\($0)"]! }
        diskTier.waitForWrites()
        let restartedTier = DiskTier(file: try BlockFile(path: diskTier.file.path, layout: diskTier.file.layout,
                                                         budget: 4096 + diskTier.file.slotCount * diskTier.file.layout.slotBytes),
                                     memory: diskArena)
        tiered = DecodeEngine(model: PagedDecoderModel(model: llama, arena: diskArena), endOfGeneration: eos, diskTier: restartedTier)
        var afterRestart: [(ms: Double, cached: Int, disk: Int)] = []
        for r in 0..<repetitions {
            _ = tiered.restoreSession("bench-disk-\(r)", tokens: kept[r].tokens, chainHashes: kept[r].chainHashes, turns: kept[r].turns)
        }
        for r in 0..<repetitions {
            restartedTier.file.dropPageCache()
            progress("after a restart, repetition \(r + 1) of \(repetitions): follow-up, page cache dropped")
            afterRestart.append(try firstToken(tiered, followUp, session: "bench-disk-\(r)"))
        }
        progress("sequential read of the tier file, page cache dropped")
        let bandwidth = try readBandwidth(restartedTier.file)

        let turn = Report.Turn(
            historyTokens: openings[0].count + 1, promptTokens: followUp.count,
            residentCachedTokens: resident.map(\.cached), evictedCachedTokens: evicted.map(\.cached),
            residentMilliseconds: resident.map(\.ms), evictedMilliseconds: evicted.map(\.ms),
            ratio: evicted.map(\.ms).median / resident.map(\.ms).median,
            diskCachedTokens: fromDisk.map(\.disk), diskMilliseconds: fromDisk.map(\.ms),
            restartDiskCachedTokens: afterRestart.map(\.disk), restartMilliseconds: afterRestart.map(\.ms),
            diskRatio: evicted.map(\.ms).median / fromDisk.map(\.ms).median, diskReadMegabytesPerSecond: bandwidth)

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
    func firstToken(_ engine: DecodeEngine, _ prompt: [TokenID], session: String?) throws -> (ms: Double, cached: Int, disk: Int) {
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
                if case let .finished(id2, completion) = event, id2 == id {
                    return (elapsed ?? .nan, completion.cachedTokens, completion.diskCachedTokens)
                }
            }
        }
        throw ValidationError("the turn never finished")
    }

    /// A disk tier of `slots` blocks in a new file under `diskDirectory`.
    func tier(arena: KVArena, slots: Int, name: String) throws -> DiskTier {
        let layout = BlockFileLayout(payloadBytes: arena.bytesPerBlock, segmentBytes: arena.segmentBytes, blockSize: arena.blockSize,
                                     fingerprint: 1)
        let path = (diskDirectory as NSString).appendingPathComponent("kvserve-bench-\(name)-\(getpid()).kvtier")
        try? FileManager.default.removeItem(atPath: path)
        return DiskTier(file: try BlockFile(path: path, layout: layout, budget: 4096 + slots * layout.slotBytes), memory: arena)
    }

    /// MB/s of reading `file` from start to end in 4 MiB pieces, its pages
    /// dropped from the page cache first.
    func readBandwidth(_ file: BlockFile) throws -> Double {
        file.dropPageCache()
        guard let handle = FileHandle(forReadingAtPath: file.path) else { throw ValidationError("cannot read \(file.path)") }
        defer { try? handle.close() }
        let start = DispatchTime.now().uptimeNanoseconds
        var bytes = 0
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { bytes += chunk.count }
        return Double(bytes) / 1e6 / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// A chat opening of at least `history` tokens: a system prompt and a long
    /// user message of numbered records.
    func longOpening(set: Int, file: ModelFile) throws -> [TokenID] {
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
            let rendered = try file.requiredChatTemplate.render([
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
        lines.append("eviction workload: \(e.sessions) sessions x \(e.turns) turns, 4 at a time, kv_cache_bytes \(mib(e.kvCacheBytes)), kv_disk_bytes \(mib(e.kvDiskBytes)), \(e.evictions) evictions, \(e.preemptions) preemptions, \(e.diskBlocksWritten) blocks written to disk, \(e.diskBlocksRead) read back")
        lines.append("  peak RSS \(mib(e.peakRSSBytes)); bound (model file \(mib(e.modelFileBytes)) + kv_cache_bytes + 64 MiB) \(mib(e.boundBytes)): \(e.peakRSSBytes <= e.boundBytes ? "within" : "EXCEEDED")")
        lines.append("")
        let t = r.turn
        lines.append("follow-up turn of \(t.promptTokens) tokens after \(t.historyTokens) tokens of history, time to first token (ms):")
        lines.append("  history resident: \(ms(t.residentMilliseconds))  (cached tokens \(t.residentCachedTokens.map(String.init).joined(separator: ", ")))")
        lines.append("  history evicted:  \(ms(t.evictedMilliseconds))  (cached tokens \(t.evictedCachedTokens.map(String.init).joined(separator: ", ")))")
        lines.append("  history on disk:  \(ms(t.diskMilliseconds))  (from disk \(t.diskCachedTokens.map(String.init).joined(separator: ", ")) tokens; page cache dropped)")
        lines.append("  after a restart:  \(ms(t.restartMilliseconds))  (from disk \(t.restartDiskCachedTokens.map(String.init).joined(separator: ", ")) tokens; page cache dropped)")
        lines.append(String(format: "  evicted / resident (medians): %.1fx; recomputed / from disk: %.1fx", t.ratio, t.diskRatio))
        lines.append(String(format: "  disk read bandwidth (sequential, page cache dropped): %.0f MB/s", t.diskReadMegabytesPerSecond))
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
