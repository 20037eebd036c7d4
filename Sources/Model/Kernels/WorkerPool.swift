import Foundation
import Synchronization

/// A persistent pool of threads that split each kernel call between them.
/// Dispatch's concurrentPerform wakes its second worker too late for jobs of
/// a few microseconds (../shared/KERNEL-NOTES.md); here workers spin on a
/// generation counter while work keeps coming and park on a condition
/// variable once the engine goes idle, so an idle server burns no CPU.
///
/// The calling thread takes part as worker 0. Jobs must not call `run`.
public final class WorkerPool: @unchecked Sendable {
    public let threadCount: Int
    /// Bumped once per job; workers compare it with the last one they ran.
    private let generation = Atomic<UInt64>(0)
    /// Workers (besides the caller) still running the current job.
    private let unfinished = Atomic<Int>(0)
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

    /// The default pool: KVSERVE_THREADS threads, or one per CPU the
    /// process may use (its affinity mask and cgroup quota).
    public static let shared = WorkerPool(threadCount: defaultThreadCount)

    public static var defaultThreadCount: Int {
        ProcessInfo.processInfo.environment["KVSERVE_THREADS"].flatMap { Int($0) } ?? UsableCPUs.detect().count
    }

    public init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
        for index in 1..<self.threadCount {
            // Workers keep the pool alive: pools are made once and live as long as the process.
            let thread = Thread { self.workerLoop(index: index) }
            thread.name = "kvserve-worker-\(index)"
            thread.stackSize = 1 << 20
            threads.append(thread)
            thread.start()
        }
    }

    /// Runs `body(worker, workerCount)` on every worker and returns when all
    /// have finished. Worker w should take its own share of the work.
    public func run(_ body: (Int, Int) -> Void) {
        guard threadCount > 1 else { body(0, 1); return }
        callerLock.lock()
        defer { callerLock.unlock() }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            unfinished.store(threadCount - 1, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)
            if parked.load(ordering: .sequentiallyConsistent) > 0 {
                lock.lock(); lock.broadcast(); lock.unlock()
            }
            escapable(0, threadCount)
            var spins = 0
            while unfinished.load(ordering: .acquiring) > 0 { Self.pause(&spins) }
            job = nil
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
            job!(index, threadCount)
            unfinished.subtract(1, ordering: .releasing)
        }
    }
}
