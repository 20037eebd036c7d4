import Foundation
import Synchronization

/// A persistent pool of threads that split each kernel call between them.
/// Dispatch's concurrentPerform wakes its second worker too late for jobs of
/// a few microseconds (docs/kernels.md, "Threads"); here workers spin on a
/// generation counter while work keeps coming and park on a condition
/// variable once the engine goes idle, so an idle server burns no CPU.
///
/// A job is cut into more parts than there are threads, and each thread
/// takes the next part until none is left; the job ends when every part is
/// done, not when every thread has come. A thread that another process
/// keeps off its core (a shared host, a CPU quota) therefore costs at most
/// the part it holds: the others do the rest, instead of waiting a whole
/// time slice for its share at each of the ~200 kernel calls of a token.
/// Parts are `body(part, parts)` calls, like shares of `parts` workers, so
/// results do not depend on who ran which part.
///
/// The calling thread takes parts too. Jobs must not call `run`.
public final class WorkerPool: @unchecked Sendable {
    public let threadCount: Int
    /// Bumped once per job; workers compare it with the last one they ran.
    private let generation = Atomic<UInt64>(0)
    /// The next part of the current job to take, and the parts finished.
    private let nextPart = Atomic<Int>(0)
    private let finishedParts = Atomic<Int>(0)
    /// Parts per job (a constant; see `run`).
    public let partCount: Int
    private let parked = Atomic<Int>(0)
    private let lock = NSCondition()
    /// One job at a time: callers on other threads (tests, a second model) wait.
    private let callerLock = NSLock()
    /// The job in flight; written before `generation` is bumped.
    private nonisolated(unsafe) var job: ((Int, Int) -> Void)? = nil
    private var threads: [Thread] = []

    /// Spins before a worker parks: the yields after the first few thousand
    /// make this some milliseconds, longer than any gap between the kernel
    /// calls of one step.
    private static let spinsBeforeParking = 20_000

    /// The command-line tools' pool (the server makes its own from its
    /// configuration): KVSERVE_THREADS threads, or one per CPU the process
    /// may use (its affinity mask and cgroup quota).
    public static let shared = WorkerPool(threadCount: defaultThreadCount)

    public static var defaultThreadCount: Int {
        ProcessInfo.processInfo.environment["KVSERVE_THREADS"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
            ?? UsableCPUs.detect().count
    }

    public init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
        // Four parts a thread: enough that a stalled thread's part is small,
        // few enough that taking parts costs nothing next to a kernel call.
        partCount = self.threadCount * 4
        nextPart.store(partCount, ordering: .sequentiallyConsistent)
        for index in 1..<self.threadCount {
            // Workers keep the pool alive: pools are made once and live as long as the process.
            let thread = Thread { self.workerLoop(index: index) }
            thread.name = "kvserve-worker-\(index)"
            thread.stackSize = 1 << 20
            threads.append(thread)
            thread.start()
        }
    }

    /// Runs `body(part, parts)` for every part `0..<parts` and returns when
    /// all are done, parts spread over the threads as they come. Part p
    /// should do the p-th of `parts` shares of the work.
    public func run(_ body: (Int, Int) -> Void) {
        guard threadCount > 1 else { body(0, 1); return }
        callerLock.lock()
        defer { callerLock.unlock() }
        withoutActuallyEscaping(body) { escapable in
            // The job before this one has no part left (nextPart >= parts):
            // a late thread takes nothing of it. Job first, then the parts.
            job = escapable
            finishedParts.store(0, ordering: .sequentiallyConsistent)
            nextPart.store(0, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)
            if parked.load(ordering: .sequentiallyConsistent) > 0 {
                lock.lock(); lock.broadcast(); lock.unlock()
            }
            takeParts()
            var spins = 0
            while finishedParts.load(ordering: .acquiring) < partCount { Self.pause(&spins) }
            job = nil
        }
    }

    /// Runs parts of the current job until none is left.
    @inline(__always)
    private func takeParts() {
        while true {
            let part = nextPart.add(1, ordering: .sequentiallyConsistent).oldValue
            guard part < partCount else { return }
            job!(part, partCount)
            finishedParts.add(1, ordering: .releasing)
        }
    }

    /// Worker `worker`'s share of the rows of several matrices taken as one
    /// run (`rows[m]` rows of matrix m): `body(m, range)` for each matrix
    /// whose rows `range` fall in that share.
    @inline(__always)
    public static func forEachShare(of rows: [Int], worker: Int, workers: Int, _ body: (Int, Range<Int>) -> Void) {
        let share = share(of: rows.reduce(0, +), worker: worker, workers: workers)
        var first = 0
        for m in rows.indices {
            let lower = max(share.lowerBound - first, 0), upper = min(share.upperBound - first, rows[m])
            if lower < upper { body(m, lower..<upper) }
            first += rows[m]
        }
    }

    /// `body` over `0..<count`: split into the parts' shares on the pool when
    /// there are at least `minimum` items, else in one call on this thread
    /// (a hand-over costs more than a few items' work).
    public func forEachShare(of count: Int, splittingFrom minimum: Int, _ body: (Range<Int>) -> Void) {
        if count >= minimum {
            run { part, parts in body(Self.share(of: count, worker: part, workers: parts)) }
        } else {
            body(0..<count)
        }
    }

    /// Rows `0..<count` split into `workers` contiguous shares.
    @inline(__always)
    public static func share(of count: Int, worker: Int, workers: Int) -> Range<Int> {
        (count * worker / workers)..<(count * (worker + 1) / workers)
    }

    /// Busy-waits briefly, then yields the core on every further spin: when
    /// another process holds the core a spinning waiter would otherwise burn
    /// its whole time slice while the thread it waits for cannot run.
    @inline(__always)
    private static func pause(_ spins: inout Int) {
        spins += 1
        if spins > spinsBeforeYielding { sched_yield() }
    }

    private static let spinsBeforeYielding = 2_000

    private func workerLoop(index: Int) {
        var seen: UInt64 = 0
        while true {
            var spins = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                if spins >= Self.spinsBeforeParking {
                    lock.lock()
                    parked.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen { lock.wait() }
                    parked.subtract(1, ordering: .sequentiallyConsistent)
                    lock.unlock()
                    spins = 0
                }
                Self.pause(&spins)
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            takeParts()
        }
    }
}
