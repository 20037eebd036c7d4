import KVCache
import PropertyBased
import Testing
@testable import Engine
import Model

/// Random interleavings of session turns, stateless requests, steps,
/// cancellations, deletions and expiries through the real engine, cache and
/// session store, over a `RecordingModel` with a small pool. After every
/// operation the block pool's invariants are checked against the engine's
/// tables; every reply is checked against the model's greedy reply computed
/// without a cache; no slot is ever read for the wrong position.
@Suite struct SchedulingPropertyTests {
    enum Operation: Sendable, CustomStringConvertible {
        /// A turn for session `session` (5 = stateless), optionally opening with the shared prefix.
        case submit(session: Int, sharedPrefix: Bool, prompt: [Int32], maxTokens: Int, ignoreEOS: Bool)
        case step(times: Int)
        case cancel(pick: Int)
        case delete(session: Int)
        case wait(seconds: Int)

        var description: String {
            switch self {
            case let .submit(s, shared, prompt, max, ignore):
                return "submit(s\(s)\(shared ? "+prefix" : ""), \(prompt), max \(max)\(ignore ? ", ignoreEOS" : ""))"
            case .step(let n): return "step×\(n)"
            case .cancel(let pick): return "cancel(#\(pick))"
            case .delete(let s): return "delete(s\(s))"
            case .wait(let seconds): return "wait(\(seconds) s)"
            }
        }
    }

    static let sessions = 5, stateless = 5
    static let sharedPrefix: [Int32] = [1, 2, 3, 4, 5, 6, 1, 2, 3, 4]
    static let timeToLive = 600.0

    static let operation = Gen<Operation>.frequency(
        (3, zip(Gen.int(in: 0...stateless), Gen.bool, Gen.int(in: 0...6).array(of: 1...24), Gen.int(in: 1...16), Gen.bool)
            .map { Operation.submit(session: $0, sharedPrefix: $1, prompt: $2.map(Int32.init), maxTokens: $3, ignoreEOS: $4) }),
        (5, Gen.int(in: 1...3).map { Operation.step(times: $0) }),
        (1, Gen.int(in: 0...7).map { Operation.cancel(pick: $0) }),
        (1, Gen.int(in: 0..<sessions).map { Operation.delete(session: $0) }),
        (1, Gen.int(in: 0...400).map { Operation.wait(seconds: $0) })
    )
    static let workload = zip(Gen.int(in: 6...24), operation.array(of: 1...150))

    /// What the test knows of a request in flight.
    struct InFlight {
        let session: Int?
        let expected: (reply: [TokenID], history: [TokenID])
        var streamed: [TokenID] = []
    }

    final class Clock: @unchecked Sendable { var now = 0.0 }

    /// What the random runs exercised, so that a vacuous run cannot pass.
    struct Coverage {
        var finished = 0, cancelled = 0, refused = 0, evictions = 0, preemptions = 0, hitTokens = 0, expired = 0, deleted = 0
        /// Turns that found part of a block resident (a claimed partial block).
        var partialHits = 0
        mutating func add(_ o: Coverage) {
            finished += o.finished; cancelled += o.cancelled; refused += o.refused; evictions += o.evictions
            preemptions += o.preemptions; hitTokens += o.hitTokens; expired += o.expired; deleted += o.deleted
            partialHits += o.partialHits
        }
    }

    @Test func invariantsHoldAndRepliesAreExactUnderRandomInterleavings() async {
        var runs = 0, operations = 0, coverage = Coverage()
        await propertyCheck(count: 200, input: Self.workload) { blocks, script in
            runs += 1
            operations += script.count
            coverage.add(Self.run(blocks: blocks, script))
        }
        #expect(runs == 200)
        #expect(operations >= 10_000, "only \(operations) random operations")
        #expect(coverage.finished > 1000 && coverage.cancelled > 100 && coverage.refused > 100, "\(coverage)")
        #expect(coverage.evictions > 1000 && coverage.preemptions > 100 && coverage.hitTokens > 10_000, "\(coverage)")
        #expect(coverage.expired > 10 && coverage.deleted > 10 && coverage.partialHits > 40, "\(coverage)")
    }

    static func run(blocks: Int, _ script: [Operation]) -> Coverage {
        var coverage = Coverage()
        let model = RecordingModel(contextLength: 64, blockSize: 4, blockCount: blocks)
        var limits = DecodeEngine.Limits()
        limits.maxBatchSequences = 4
        limits.maxPrefillTokensPerStep = 8
        limits.maxSessions = 4
        limits.sessionTimeToLive = timeToLive
        let clock = Clock()
        let engine = DecodeEngine(model: model, endOfGeneration: [RecordingModel.endOfSequence], limits: limits, clock: { clock.now })
        var history: [Int: [TokenID]] = [:]  // each session's tokens, as the test knows them
        var inFlight: [RequestID: InFlight] = [:]
        var endedAt: [Int: Double] = [:]  // when each session's last turn ended

        func absorb(_ events: [EngineEvent]) {
            for event in events {
                switch event {
                case let .token(id, index, token, _):
                    #expect(inFlight[id] != nil, "token for unknown request \(id)")
                    #expect(index == inFlight[id]?.streamed.count)
                    inFlight[id]?.streamed.append(token)
                case let .finished(id, completion):
                    guard let request = inFlight.removeValue(forKey: id) else { Issue.record("request \(id) finished twice"); continue }
                    #expect(completion.tokens == request.streamed)
                    if completion.reason == .cancelled {
                        coverage.cancelled += 1
                        #expect(request.streamed == Array(request.expected.reply.prefix(request.streamed.count)))
                        continue
                    }
                    #expect(completion.tokens == request.expected.reply, "request \(id)")
                    coverage.finished += 1
                    if completion.cachedTokens % 4 != 0 { coverage.partialHits += 1 }
                    if let s = request.session { history[s] = request.expected.history; endedAt[s] = clock.now }
                }
            }
        }

        func check(after operation: Operation) {
            #expect(engine.cache.checkInvariants() == nil, "after \(operation): \(engine.cache.checkInvariants() ?? "")")
            // Reference counts against the tables of the requests the test knows are in flight.
            var holders = [Int](repeating: 0, count: blocks)
            for id in inFlight.keys { for b in engine.cache.table(id)?.blocks ?? [] { holders[Int(b)] += 1 } }
            for b in 0..<blocks { #expect(holders[b] == engine.cache.pool.referenceCount(Int32(b)), "block \(b) after \(operation)") }
            let pool = engine.cache.pool
            #expect(pool.usedCount + pool.cachedCount + pool.freeCount == blocks)
            #expect(Set(inFlight.keys.flatMap { engine.cache.table($0)?.blocks ?? [] }).count <= blocks)
            #expect(model.violations.isEmpty, "after \(operation): \(model.violations.prefix(3))")
            #expect(engine.runningCount <= limits.maxBatchSequences)
            #expect(engine.sessions.count <= limits.maxSessions)
            // Sessions are never altered behind the test's back, and vanish only by expiry.
            for (s, tokens) in history {
                if let session = engine.sessions["s\(s)"] {
                    #expect(session.busy || session.tokens == tokens, "session s\(s)")
                } else {
                    #expect(clock.now - endedAt[s]! > timeToLive, "session s\(s) vanished before its time to live")
                    coverage.expired += 1
                    history[s] = nil
                }
            }
        }

        for operation in script {
            switch operation {
            case let .submit(s, shared, prompt, maxTokens, ignoreEOS):
                let session = s == stateless ? nil : s
                let prompt = (shared ? sharedPrefix : []) + prompt
                var request = GenerationRequest(prompt: prompt, sessionID: session.map { "s\($0)" }, maxTokens: maxTokens, ignoreEOS: ignoreEOS)
                request.sampling.temperature = 0
                let before = session.flatMap { engine.sessions["s\($0)"] }
                let past = session.flatMap { history[$0] } ?? []
                let busy = inFlight.values.contains { $0.session != nil && $0.session == session }
                do {
                    let id = try engine.submit(request)
                    #expect(!busy, "a second turn of a busy session was accepted")
                    inFlight[id] = InFlight(session: session, expected: RecordingModel.greedyReply(
                        to: past + prompt, maxTokens: maxTokens, ignoreEOS: ignoreEOS))
                } catch {
                    coverage.refused += 1
                    let total = past.count + prompt.count + maxTokens
                    switch error {
                    case .beyondContext: #expect(total > 64)
                    case .beyondPool: #expect(total <= 64 && total > blocks * 4)
                    case .session(.busy): #expect(busy)
                    case .session(.full): #expect(before == nil && engine.sessions.count == limits.maxSessions)
                    default: Issue.record("unexpected refusal \(error)")
                    }
                }
            case .step(let times):
                for _ in 0..<times { absorb(engine.step()) }
            case .cancel(let pick):
                let ids = inFlight.keys.sorted()
                if !ids.isEmpty, let event = engine.cancel(ids[pick % ids.count]) { absorb([event]) }
            case .delete(let s):
                let busy = inFlight.values.contains { $0.session == s }
                do {
                    if try engine.deleteSession("s\(s)") { history[s] = nil; coverage.deleted += 1 }
                    #expect(!busy)
                } catch {
                    #expect(busy)
                }
            case .wait(let seconds):
                clock.now += Double(seconds)
                absorb(engine.step())
            }
            check(after: operation)
        }
        // Everything submitted ends, and ends once.
        var steps = 0
        while engine.hasWork && steps < 10_000 { absorb(engine.step()); steps += 1 }
        #expect(!engine.hasWork && inFlight.isEmpty, "\(inFlight.count) requests never finished")
        #expect(engine.cache.pool.usedCount == 0)
        check(after: .step(times: 0))
        let usage = engine.cache.usage
        coverage.evictions = usage.evictions
        coverage.preemptions = usage.counters.preemptions
        coverage.hitTokens = usage.counters.hitTokens
        return coverage
    }
}
