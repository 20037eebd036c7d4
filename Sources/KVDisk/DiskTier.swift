import Foundation
import KVCache

/// Moves K/V blocks between the RAM pool and the tier file, off the engine
/// thread: the engine decides what moves (and owns the `DiskTierIndex`),
/// two serial queues do the reads and writes, and their outcomes wait in a
/// list that the engine drains at the start of each step.
///
/// A write copies the block's bytes first (on the engine thread, tens of
/// microseconds a block), so the RAM block may be reused at once and no step
/// waits on the disk; copies in flight are capped (`maxStagingBytes`), and
/// past the cap a block is not written (it costs a recompute if it is ever
/// needed). A read goes straight into RAM blocks that the engine holds for
/// it until the read is drained. Reads have their own queue, so a follow-up
/// never waits behind a backlog of writes.
public final class DiskTier: @unchecked Sendable {
    public struct Counters: Sendable, Equatable {
        /// Prompt tokens whose keys and values were read back from disk.
        public var hitTokens = 0
        public var bytesWritten = 0, bytesRead = 0
        /// Writes that failed (disk error or full), and reads that failed
        /// (checksum, truncation, disk error): each costs a recompute.
        public var writeFailures = 0, readFailures = 0
        /// Blocks not written because too many writes were in flight.
        public var writesSkipped = 0
        public init() {}
    }

    /// A snapshot for metrics.
    public struct Usage: Sendable, Equatable {
        public let slots: Int, storedBlocks: Int, bytesPerSlot: Int
        public let counters: Counters
        public var storedBytes: Int { storedBlocks * bytesPerSlot }
    }

    /// A finished read: per block, whether it arrived intact (nil: not tried,
    /// after an earlier block of the load failed).
    public struct FinishedLoad {
        public let load: Int
        public let outcomes: [Bool?]
    }

    private enum Outcome {
        case write(DiskTierIndex.Slot, BlockFileError?)
        case read(load: Int, slots: [DiskTierIndex.Slot], outcomes: [Bool?], error: BlockFileError?)
    }

    public let file: BlockFile
    public let memory: any KVBlockMemory
    public private(set) var index: DiskTierIndex
    public private(set) var counters = Counters()
    public let maxStagingBytes: Int
    /// Called (on an I/O queue) when an outcome is ready to drain.
    public var wake: @Sendable () -> Void = {}
    private let log: @Sendable (String) -> Void
    private let writes = DispatchQueue(label: "kvserve.kv-disk.writes")
    private let reads = DispatchQueue(label: "kvserve.kv-disk.reads")
    private let condition = NSCondition()
    // Under `condition`:
    private var outcomes: [Outcome] = []
    private var stagingBytes = 0
    private var readsFinished = 0
    /// When each kind of failure was last logged, and how many since went
    /// unlogged: a failing disk logs a line per kind every 10 s at most.
    private var logged: [String: (at: ContinuousClock.Instant, since: Int)] = [:]

    /// A tier over `file` for the blocks of `memory`, with the index
    /// recovered from what the file holds.
    public init(file: BlockFile, memory: any KVBlockMemory, maxStagingBytes: Int = 16 << 20,
                log: @escaping @Sendable (String) -> Void = { _ in }) {
        precondition(file.layout.payloadBytes == memory.bytesPerBlock && file.layout.segmentBytes == memory.segmentBytes,
                     "the tier file's layout does not match the K/V memory")
        self.file = file
        self.memory = memory
        self.maxStagingBytes = max(maxStagingBytes, memory.bytesPerBlock)
        self.log = log
        index = DiskTierIndex(slotCount: file.slotCount)
        index.recover(file.recover().map { found in
            (found.slot, BlockPool.Contents(hash: found.block.hash, tokens: found.block.tokens, parent: found.block.parent),
             found.block.serial)
        })
    }

    public var usage: Usage {
        Usage(slots: index.slotCount, storedBlocks: index.storedCount, bytesPerSlot: file.layout.slotBytes, counters: counters)
    }

    public func countHits(tokens: Int) { counters.hitTokens += tokens }

    /// The stored slot holding this block, if any.
    public func slot(of contents: BlockPool.Contents) -> DiskTierIndex.Slot? {
        index.lookup(hash: contents.hash, parent: contents.parent, tokens: contents.tokens)
    }

    /// Writes a full block's bytes, unless the tier holds it already (or is
    /// writing it); returns at once.
    public func store(_ contents: BlockPool.Contents, from block: Int32) {
        guard !contents.isPartial, !index.holds(contents) else {
            if let slot = slot(of: contents) { index.touch(slot) }
            return
        }
        let bytes = memory.bytesPerBlock
        let room = condition.withLock {
            guard stagingBytes + bytes <= maxStagingBytes else { return false }
            stagingBytes += bytes
            return true
        }
        guard room, let (slot, serial) = index.reserveWrite(contents) else {
            if room { condition.withLock { stagingBytes -= bytes } }
            counters.writesSkipped += 1
            return
        }
        // Owned by the write job once handed over.
        nonisolated(unsafe) let staging = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
        var at = 0
        for segment in memory.segments(ofBlock: block) {
            UnsafeMutableRawBufferPointer(rebasing: staging[at..<at + segment.count]).copyMemory(from: UnsafeRawBufferPointer(segment))
            at += segment.count
        }
        let stored = StoredBlock(hash: contents.hash, parent: contents.parent, tokens: contents.tokens, serial: serial)
        writes.async { [file] in
            var failure: BlockFileError?
            do throws(BlockFileError) { try file.write(slot: Int(slot), block: stored, payload: UnsafeRawBufferPointer(staging)) } catch { failure = error }
            staging.deallocate()
            self.finish(.write(slot, failure), staging: bytes)
        }
    }

    /// Reads `items` (stored slots, in chain order) into RAM blocks held for
    /// the load, stopping at the first that fails; returns at once. The slots
    /// are held first, then `beforeReading` runs (it may write blocks, which
    /// then cannot take those slots), then the read starts.
    public func read(load: Int, _ items: [(slot: DiskTierIndex.Slot, contents: BlockPool.Contents, block: Int32)], beforeReading: () -> Void) {
        for item in items { index.beginRead(item.slot) }
        beforeReading()
        let expected = items.map { StoredBlock(hash: $0.contents.hash, parent: $0.contents.parent, tokens: $0.contents.tokens, serial: 0) }
        // RAM blocks held for this load: nothing else touches them until it is drained.
        nonisolated(unsafe) let targets = items.map { memory.segments(ofBlock: $0.block) }
        reads.async { [file] in
            var outcomes = [Bool?](repeating: nil, count: items.count), failure: BlockFileError?
            for k in items.indices {
                do throws(BlockFileError) {
                    try file.read(slot: Int(items[k].slot), expecting: expected[k], into: targets[k])
                    outcomes[k] = true
                } catch {
                    outcomes[k] = false
                    failure = error
                    break
                }
            }
            self.finish(.read(load: load, slots: items.map(\.slot), outcomes: outcomes, error: failure), staging: 0)
        }
    }

    private func finish(_ outcome: Outcome, staging: Int) {
        condition.withLock {
            outcomes.append(outcome)
            stagingBytes -= staging
            if case .read = outcome { readsFinished += 1 }
            condition.broadcast()
        }
        wake()
    }

    /// Whether a read has finished and not been drained.
    public var hasFinishedReads: Bool { condition.withLock { readsFinished > 0 } }

    /// Blocks until some read finishes (when nothing else can run).
    public func waitForRead() {
        condition.withLock { while readsFinished == 0 { condition.wait() } }
    }

    /// Blocks until every write in flight is done (tests, benchmarks).
    public func waitForWrites() {
        writes.sync {}
    }

    /// Applies the finished writes and reads to the index; returns the
    /// finished loads for the engine to hand their blocks to the RAM pool.
    public func drain() -> [FinishedLoad] {
        let done = condition.withLock {
            defer { outcomes.removeAll(); readsFinished = 0 }
            return outcomes
        }
        var loads: [FinishedLoad] = []
        for outcome in done {
            switch outcome {
            case let .write(slot, failure):
                index.finishWrite(slot, succeeded: failure == nil)
                if let failure {
                    counters.writeFailures += 1
                    report(kind: "write", "K/V disk tier: a block write failed (it will be recomputed if needed): \(failure)")
                } else {
                    counters.bytesWritten += file.layout.slotBytes
                }
            case let .read(load, slots, results, failure):
                for (slot, result) in zip(slots, results) { index.finishRead(slot, succeeded: result != false) }
                counters.bytesRead += results.filter { $0 == true }.count * file.layout.slotBytes
                if let failure {
                    counters.readFailures += 1
                    report(kind: "read", "K/V disk tier: a block read back failed and was dropped; recomputing it instead: \(failure)")
                }
                loads.append(FinishedLoad(load: load, outcomes: results))
            }
        }
        return loads
    }

    /// Logs a failure, or counts it when its kind was logged in the last 10 s
    /// (the metrics count every one).
    private func report(kind: String, _ message: String) {
        let now = ContinuousClock.now
        let unlogged: Int? = condition.withLock {
            if let last = logged[kind], now - last.at < .seconds(10) {
                logged[kind]!.since += 1
                return nil
            }
            defer { logged[kind] = (now, 0) }
            return logged[kind]?.since ?? 0
        }
        guard let unlogged else { return }
        log(message + (unlogged > 0 ? " (and \(unlogged) more like it since the last such line)" : ""))
    }
}
