import KVCache
import KVDisk
import Model

/// Brings waiting requests' prefixes back from the disk tier into RAM
/// blocks ahead of their admission. The engine drives it once a step:
/// `drain` finished reads, `start` reads for those next in line, ask
/// `readiness` of the head of the queue, tell `admitted` when it runs, and
/// `release` holds when blocks run short.
///
/// Invariants: a request has at most one load; a load is pending (its read
/// in flight) or drained (its blocks held for its request) until that
/// request is admitted or the hold is released; only waiting requests have
/// a lookup.
struct DiskPrefetch {
    /// Where a waiting request is in bringing its prefix back.
    enum Lookup {
        case unchecked
        /// Its prefix is on disk but the pool cannot take it yet.
        case blocked
        case loading(Int)
        /// Checked; the RAM blocks that a load filled for it.
        case done(Set<BlockPool.Block>)
    }

    /// What admission may do with the head of the queue.
    enum Readiness { case ready, loading, blocked }

    /// What a waiting request's prefix is: its tokens, their chain hashes, its salt.
    /// The tokens are kept in their three parts (copy-on-write, so free to
    /// pass) and joined only when a lookup is made, not on every step.
    struct Prefix {
        let id: RequestID
        let parts: (history: [TokenID], prompt: [TokenID], generated: [TokenID])
        let hashes: [UInt64]
        let salt: UInt64

        var tokens: [TokenID] { parts.history + parts.prompt + parts.generated }
    }

    private struct PendingLoad {
        let id: RequestID
        let contents: [BlockPool.Contents]
        let blocks: [BlockPool.Block]
    }

    let tier: DiskTier
    private var lookups: [RequestID: Lookup] = [:]
    /// Reads in flight, by load.
    private var pendingLoads: [Int: PendingLoad] = [:]
    /// Drained loads still holding their blocks, by request.
    private var drainedLoads: [RequestID: Int] = [:]

    init(tier: DiskTier) { self.tier = tier }

    func lookup(_ id: RequestID) -> Lookup { lookups[id] ?? .unchecked }

    /// Whether the only thing to do is wait for a read: nothing runs and the
    /// head of the queue waits for its read (or for blocks that reads in
    /// flight hold), so a step now would do nothing until one is drained.
    func isStalled(head: RequestID?, anyRunning: Bool) -> Bool {
        guard !anyRunning, !pendingLoads.isEmpty, let head else { return false }
        switch lookup(head) {
        case .loading, .blocked: return !tier.hasFinishedReads
        case .unchecked, .done: return false
        }
    }

    /// Finished reads: blocks read intact join the RAM prefix index, and
    /// their requests may be admitted. A load keeps holding its blocks until
    /// its request is admitted (adopting them), so that the blocks it read
    /// are not evicted while it waits for its turn (see `release`).
    mutating func drain(_ cache: inout PagedCache) {
        for finished in tier.drain() {
            let load = pendingLoads.removeValue(forKey: finished.load)!
            let intact = zip(load.contents, finished.outcomes).map { $1 == true ? $0 : nil }
            cache.completeLoad(finished.load, contents: intact)
            drainedLoads[load.id] = finished.load
            lookups[load.id] = .done(Set(zip(load.blocks, intact).filter { $1 != nil }.map(\.0)))
        }
    }

    /// Finds the blocks of `prefix` that are on disk and not in RAM and
    /// starts reading them into RAM blocks, unless it was looked up already.
    /// `othersFreeBlocks`: running sequences will free blocks, so the
    /// request may wait for room instead of loading part of its prefix.
    mutating func start(_ prefix: Prefix, _ cache: inout PagedCache, othersFreeBlocks: Bool) {
        switch lookup(prefix.id) {
        case .unchecked, .blocked: break
        case .loading, .done: return
        }
        var resident: [BlockPool.Block] = [], onDisk: [(slot: DiskTierIndex.Slot, contents: BlockPool.Contents)] = []
        for block in cache.prefixBlocks(prefix.tokens, hashes: prefix.hashes, salt: prefix.salt, stopAtMissing: false) {
            if let ram = block.resident {
                guard onDisk.isEmpty else { break }  // a resident block after a disk run: load up to it
                resident.append(ram)
            } else {
                let contents = BlockPool.Contents(hash: block.hash, tokens: Array(block.tokens), parent: block.parent)
                guard let slot = tier.slot(of: contents) else { break }
                onDisk.append((slot, contents))
            }
        }
        guard !onDisk.isEmpty else {
            lookups[prefix.id] = .done([])
            return
        }
        // The whole run, or wait until running sequences and other loads
        // free the blocks (admission waits too): the request needs all of
        // its history resident to run, so a partial load would only turn
        // the rest into a recompute. With nobody to wait for, what fits.
        let room = cache.pool.availableCount - resident.count - 1
        let someoneFreesBlocks = othersFreeBlocks || cache.loadsInFlight > 0
        let count = room >= onDisk.count ? onDisk.count : someoneFreesBlocks ? 0 : room
        guard count > 0, let (load, blocks) = cache.beginLoad(keeping: resident, count: count) else {
            lookups[prefix.id] = someoneFreesBlocks ? .blocked : .done([])
            return
        }
        // The blocks taken may have been evicted: write them before reading over them.
        let tier = tier
        tier.read(load: load, zip(onDisk.prefix(count), blocks).map { ($0.slot, $0.contents, $1) },
                  beforeReading: { tier.storeEvicted(from: &cache) })
        lookups[prefix.id] = .loading(load)
        pendingLoads[load] = PendingLoad(id: prefix.id, contents: onDisk.prefix(count).map(\.contents), blocks: blocks)
    }

    /// Whether the head of the queue, `prefix`, may be admitted now. A
    /// request whose lookup finished without a load holding its blocks is
    /// looked up again first: admissions before it may have evicted them.
    mutating func readiness(of prefix: Prefix, _ cache: inout PagedCache, othersFreeBlocks: Bool) -> Readiness {
        if drainedLoads[prefix.id] == nil, case let .done(earlier) = lookup(prefix.id) {
            lookups[prefix.id] = nil
            start(prefix, &cache, othersFreeBlocks: othersFreeBlocks)
            if case let .done(now) = lookup(prefix.id) { lookups[prefix.id] = .done(earlier.union(now)) }
        }
        switch lookup(prefix.id) {
        case .loading: return .loading
        case .blocked: return .blocked
        case .unchecked, .done: return .ready
        }
    }

    /// The request was admitted: its load's hold ends (the cache adopted the
    /// blocks). Returns the RAM blocks its loads filled.
    mutating func admitted(_ id: RequestID, _ cache: inout PagedCache) -> Set<BlockPool.Block> {
        if let load = drainedLoads.removeValue(forKey: id) { cache.endLoad(load) }
        defer { lookups[id] = nil }
        if case let .done(loaded) = lookup(id) { return loaded }
        return []
    }

    /// A preempted request waits again: its prefix is looked up afresh.
    mutating func forget(_ id: RequestID) { lookups[id] = nil }

    /// Ends the holds of requests no longer waiting, and, unless
    /// `keepingAll`, every hold but the head's: when blocks run short (the
    /// head could not be admitted, or a running sequence was preempted), no
    /// hold may keep anyone ahead from running. Whoever still waits without
    /// a load is looked up again next step: meanwhile its blocks may have
    /// left RAM for the disk.
    mutating func release(waiting: [RequestID], keepingAll: Bool, _ cache: inout PagedCache) {
        let waitingSet = Set(waiting)
        for (id, load) in drainedLoads where !keepingAll && id != waiting.first || !waitingSet.contains(id) {
            cache.endLoad(load)
            drainedLoads[id] = nil
        }
        for (id, lookup) in lookups where drainedLoads[id] == nil {
            if case .loading = lookup, waitingSet.contains(id) { continue }
            lookups[id] = nil
        }
    }

    /// nil when the invariants hold, else what is wrong (tests).
    func checkInvariants(_ cache: PagedCache) -> String? {
        if pendingLoads.count + drainedLoads.count != cache.loadsInFlight {
            return "\(pendingLoads.count) pending and \(drainedLoads.count) drained loads, the cache has \(cache.loadsInFlight)"
        }
        if !Set(drainedLoads.values).isDisjoint(with: pendingLoads.keys) { return "a load both pending and drained" }
        for (id, lookup) in lookups {
            switch lookup {
            case .loading(let load) where pendingLoads[load]?.id != id: return "request \(id) waits for load \(load), not in flight for it"
            case .unchecked: return "request \(id) has an explicit unchecked lookup"
            default: continue
            }
        }
        for (load, pending) in pendingLoads {
            switch lookups[pending.id] {
            case nil: continue
            case .loading(let l)? where l == load: continue
            default: return "load \(load) in flight for request \(pending.id), which does not wait for it"
            }
        }
        for id in drainedLoads.keys {
            switch lookups[id] {
            case nil, .done?: continue
            default: return "request \(id) holds a drained load but waits for another"
            }
        }
        return nil
    }
}

extension DiskTier {
    /// Writes the blocks evicted from RAM since the last call (unless the
    /// tier holds them), while their bytes are still intact: before
    /// anything is computed or read into them.
    func storeEvicted(from cache: inout PagedCache) {
        for (block, contents) in cache.takeEvicted() where !contents.isPartial { store(contents, from: block) }
    }
}
