import Foundation
import KVCache
import PropertyBased
import KVDisk
import Testing
@testable import Engine
import Model

/// Random session turns, steps, cancellations and crashes through the real
/// engine, block pool, disk tier index and tier file, over a
/// `RecordingModel` whose RAM pool is too small to keep the sessions, so
/// their blocks go to disk and come back. A crash throws away the engine and
/// its RAM (the completed turns survive, as the session store keeps them)
/// and may tear the tier file: flip a byte of a block, or cut the file
/// short. After every operation: both indexes' invariants hold, the tier
/// file stays within its budget, no position ever reads a slot written for
/// another (`RecordingModel`), and every reply equals the model's greedy
/// reply computed without a cache.
@Suite struct DiskTierPropertyTests {
    enum Operation: Sendable, CustomStringConvertible {
        case submit(session: Int, prompt: [Int32], maxTokens: Int)
        case step(times: Int)
        case cancel(pick: Int)
        /// A crash, then a restart; `tear` picks what the crash did to the file.
        case crash(tear: Int)

        var description: String {
            switch self {
            case let .submit(s, prompt, max): return "submit(s\(s), \(prompt), max \(max))"
            case .step(let n): return "step×\(n)"
            case .cancel(let pick): return "cancel(#\(pick))"
            case .crash(let tear): return "crash(tear \(tear))"
            }
        }
    }

    static let sessions = 4, blockSize = 4

    static let operation = Gen<Operation>.frequency(
        (4, zip(Gen.int(in: 0..<sessions), Gen.int(in: 0...6).array(of: 1...12), Gen.int(in: 1...8))
            .map { Operation.submit(session: $0, prompt: $1.map(Int32.init), maxTokens: $2) }),
        (6, Gen.int(in: 1...4).map { Operation.step(times: $0) }),
        (1, Gen.int(in: 0...7).map { Operation.cancel(pick: $0) }),
        (1, Gen.int(in: 0...5).map { Operation.crash(tear: $0) })
    )
    /// RAM blocks, disk slots, operations.
    static let workload = zip(Gen.int(in: 8...16), Gen.int(in: 2...24), operation.array(of: 1...120))

    struct Coverage {
        var finished = 0, diskHitTokens = 0, hitsAfterCrash = 0, crashes = 0, torn = 0, readFailures = 0, diskEvictions = 0
        mutating func add(_ o: Coverage) {
            finished += o.finished; diskHitTokens += o.diskHitTokens; hitsAfterCrash += o.hitsAfterCrash; crashes += o.crashes
            torn += o.torn; readFailures += o.readFailures; diskEvictions += o.diskEvictions
        }
    }

    @Test func nothingWrongIsReadBackAndBudgetsHoldThroughCrashes() async throws {
        var runs = 0, coverage = Coverage()
        await propertyCheck(count: 120, input: Self.workload) { blocks, slots, script in
            runs += 1
            coverage.add(Self.run(blocks: blocks, slots: slots, script))
        }
        #expect(runs == 120)
        #expect(coverage.finished > 500 && coverage.crashes > 100 && coverage.diskEvictions > 50, "\(coverage)")
        #expect(coverage.diskHitTokens > 1000 && coverage.hitsAfterCrash > 50, "\(coverage)")
        #expect(coverage.torn > 30 && coverage.readFailures > 5, "\(coverage)")
    }

    struct InFlight {
        let session: Int
        let expected: (reply: [TokenID], history: [TokenID])
        var streamed: [TokenID] = []
    }

    static func run(blocks: Int, slots: Int, _ script: [Operation]) -> Coverage {
        var coverage = Coverage()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-tier-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let layout = BlockFileLayout(payloadBytes: blockSize * 8, segmentBytes: blockSize * 8, blockSize: blockSize, fingerprint: 42)
        let budget = 4096 + slots * layout.slotBytes
        var limits = DecodeEngine.Limits()
        limits.maxBatchSequences = 3
        limits.maxPrefillTokensPerStep = 8
        limits.maxSessions = sessions

        func boot() -> (RecordingModel, DecodeEngine) {
            let model = RecordingModel(contextLength: 96, blockSize: blockSize, blockCount: blocks)
            let file = try! BlockFile(path: path, layout: layout, budget: budget)
            let tier = DiskTier(file: file, memory: model)
            return (model, DecodeEngine(model: model, endOfGeneration: [RecordingModel.endOfSequence], limits: limits, diskTier: tier,
                                        clock: { 0 }))
        }
        var (model, engine) = boot()
        var history: [Int: [TokenID]] = [:]
        var turns: [Int: Int] = [:]
        var inFlight: [RequestID: InFlight] = [:]
        var crashed = false

        func absorb(_ events: [EngineEvent]) {
            for event in events {
                switch event {
                case let .token(id, index, token, _):
                    #expect(index == inFlight[id]?.streamed.count)
                    inFlight[id]?.streamed.append(token)
                case let .finished(id, completion):
                    guard let request = inFlight.removeValue(forKey: id) else { Issue.record("request \(id) finished twice"); continue }
                    #expect(completion.tokens == request.streamed)
                    guard completion.reason != .cancelled else { continue }
                    #expect(completion.tokens == request.expected.reply, "request \(id)")
                    #expect(completion.diskCachedTokens <= completion.cachedTokens && completion.diskCachedTokens % blockSize == 0)
                    coverage.finished += 1
                    coverage.diskHitTokens += completion.diskCachedTokens
                    if crashed && completion.diskCachedTokens > 0 { coverage.hitsAfterCrash += 1 }
                    history[request.session] = request.expected.history
                    turns[request.session, default: 0] += 1
                }
            }
        }

        func check(after operation: Operation) {
            #expect(engine.cache.checkInvariants() == nil, "after \(operation): \(engine.cache.checkInvariants() ?? "")")
            #expect(engine.checkDiskPrefetch() == nil, "after \(operation): \(engine.checkDiskPrefetch() ?? "")")
            let tier = engine.diskTier!
            #expect(tier.index.checkInvariants() == nil, "after \(operation): \(tier.index.checkInvariants() ?? "")")
            #expect(tier.index.storedCount + tier.index.writingCount <= slots)
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            #expect(size <= budget, "the tier file grew past its budget")
            #expect(model.violations.isEmpty, "after \(operation): \(model.violations.prefix(3))")
        }

        for operation in script {
            switch operation {
            case let .submit(s, prompt, maxTokens):
                var request = GenerationRequest(prompt: prompt, sessionID: "s\(s)", maxTokens: maxTokens)
                request.sampling.temperature = 0
                let past = history[s] ?? []
                do {
                    let id = try engine.submit(request)
                    inFlight[id] = InFlight(session: s, expected: RecordingModel.greedyReply(to: past + prompt, maxTokens: maxTokens, ignoreEOS: false))
                } catch {
                    switch error {
                    case .session(.busy): #expect(inFlight.values.contains { $0.session == s })
                    case .beyondContext, .beyondPool: #expect(past.count + prompt.count + maxTokens > min(96, blocks * blockSize))
                    default: Issue.record("unexpected refusal \(error)")
                    }
                }
            case .step(let times):
                for _ in 0..<times where engine.hasWork { absorb(engine.step()) }
            case .cancel(let pick):
                let ids = inFlight.keys.sorted()
                if !ids.isEmpty, let event = engine.cancel(ids[pick % ids.count]) { absorb([event]) }
            case .crash(let tear):
                let tier = engine.diskTier!
                tier.waitForWrites()
                coverage.diskEvictions += tier.index.evictions
                coverage.readFailures += tier.counters.readFailures
                if tear >= 4, let victim = tier.file.recover().randomElement() {
                    // A torn write: one flipped byte in the block's header page or its payload.
                    let handle = FileHandle(forUpdatingAtPath: path)!
                    let header = UInt64(4096 + victim.slot * layout.slotBytes + 60)
                    var at = tear == 4 ? header : UInt64(4096 + victim.slot * layout.slotBytes + 4096 + Int.random(in: 0..<layout.payloadBytes))
                    // A payload an earlier cut left short ends before `at`: tear its header instead.
                    if at >= (try! handle.seekToEnd()) { at = header }
                    try! handle.seek(toOffset: at)
                    let byte = try! handle.read(upToCount: 1)!.first!
                    try! handle.seek(toOffset: at)
                    try! handle.write(contentsOf: [byte ^ 0x20])
                    try! handle.close()
                    coverage.torn += 1
                } else if tear == 3 {
                    // Cut short mid-slot, as a crash during a first write of the file's last slot.
                    let size = (try! FileManager.default.attributesOfItem(atPath: path)[.size] as! Int)
                    if size > 4096 + 100 { truncate(path, off_t(Int.random(in: 4096..<size))); coverage.torn += 1 }
                }
                inFlight.removeAll()
                (model, engine) = boot()
                for (s, tokens) in history {
                    #expect(engine.restoreSession("s\(s)", tokens: tokens, chainHashes: [], turns: turns[s] ?? 1))
                }
                crashed = true
                coverage.crashes += 1
            }
            check(after: operation)
        }
        var steps = 0
        while engine.hasWork && steps < 10_000 {
            let events = engine.step()
            // A step can only wait for blocks still being written out; on a
            // loaded machine the writes outlast any count of steps.
            if events.isEmpty { engine.diskTier!.waitForWrites() }
            absorb(events); steps += 1
        }
        #expect(!engine.hasWork && inFlight.isEmpty)
        engine.diskTier!.waitForWrites()
        _ = engine.step()  // drains the last writes
        check(after: .step(times: 0))
        coverage.diskEvictions += engine.diskTier!.index.evictions
        coverage.readFailures += engine.diskTier!.counters.readFailures
        return coverage
    }
}
