import KVCache

/// The disk tier as bookkeeping: which slot of the tier file holds which
/// block (by the same chain hash and token ids as the RAM prefix index),
/// which slots are being written or read, and the LRU order in which stored
/// slots give way to new writes. It never touches bytes (Storage's
/// `BlockFile` does, on other threads); the engine thread owns it.
///
/// Invariants (checked by `checkInvariants`):
/// - every slot is exactly one of: free, writing (reserved, not readable
///   until its write succeeds), stored (readable, in the index);
/// - the index maps a hash to a stored slot holding exactly that block, and
///   every stored slot is in it;
/// - a stored slot is in the LRU queue exactly when no read holds it: a slot
///   being read is never handed to a write;
/// - free + writing + stored = slot count (the budget is never exceeded).
public struct DiskTierIndex: Sendable {
    public typealias Slot = Int32
    public typealias Contents = BlockPool.Contents

    enum State: Equatable { case free, writing(Contents), stored(Contents) }

    public let slotCount: Int
    private var states: [State]
    private var readers: [Int32]
    private var freeList: [Slot]
    private var index: [UInt64: Slot] = [:]
    /// Hashes with a write in flight, so a block is never written twice at once.
    private var writing: [UInt64: Slot] = [:]
    /// Unread stored slots, least recently used first.
    private var lru: LRUQueue
    /// The serial the next write gets (later writes are more recent).
    public private(set) var nextSerial: UInt64 = 1
    public private(set) var storedCount = 0
    public private(set) var evictions = 0

    public init(slotCount: Int) {
        precondition(slotCount >= 0)
        self.slotCount = slotCount
        states = Array(repeating: .free, count: slotCount)
        readers = Array(repeating: 0, count: slotCount)
        freeList = (0..<Slot(slotCount)).reversed()
        lru = LRUQueue(capacity: slotCount)
    }

    public var writingCount: Int { writing.count }
    public var freeCount: Int { freeList.count }

    /// The stored slot holding exactly `tokens` after the chain `parent`.
    public func lookup<C: Collection>(hash: UInt64, parent: UInt64, tokens: C) -> Slot? where C.Element == Int32 {
        guard let slot = index[hash], case let .stored(c) = states[Int(slot)], c.parent == parent,
              c.tokens.elementsEqual(tokens) else { return nil }
        return slot
    }

    /// Whether the block is stored or being written.
    public func holds(_ contents: Contents) -> Bool {
        lookup(hash: contents.hash, parent: contents.parent, tokens: contents.tokens) != nil || writing[contents.hash] != nil
    }

    /// Marks a stored block as just used, so it is evicted last.
    public mutating func touch(_ slot: Slot) {
        guard case .stored = states[Int(slot)], readers[Int(slot)] == 0 else { return }
        lru.remove(slot)
        lru.append(slot)
    }

    /// A slot to write `contents` into, with the serial to write with: a
    /// free one, else the least recently used stored one (evicted). Nil when
    /// the block is already stored or being written (then it is touched), or
    /// when every slot is being written or read.
    public mutating func reserveWrite(_ contents: Contents) -> (slot: Slot, serial: UInt64)? {
        precondition(!contents.isPartial, "only full blocks go to disk")
        if let stored = lookup(hash: contents.hash, parent: contents.parent, tokens: contents.tokens) {
            touch(stored)
            return nil
        }
        guard writing[contents.hash] == nil else { return nil }
        let slot: Slot
        if let free = freeList.popLast() {
            slot = free
        } else if lru.first >= 0 {
            slot = lru.first
            lru.remove(slot)
            forget(slot)
            evictions += 1
        } else {
            return nil
        }
        states[Int(slot)] = .writing(contents)
        writing[contents.hash] = slot
        defer { nextSerial += 1 }
        return (slot, nextSerial)
    }

    /// Ends a write: on success the slot is stored (most recently used) and
    /// indexed, unless an identical block got stored meanwhile; on failure,
    /// or then, it is free again.
    public mutating func finishWrite(_ slot: Slot, succeeded: Bool) {
        guard case let .writing(contents) = states[Int(slot)] else { preconditionFailure("slot \(slot) was not being written") }
        writing[contents.hash] = nil
        guard succeeded, index[contents.hash] == nil else {
            states[Int(slot)] = .free
            freeList.append(slot)
            return
        }
        states[Int(slot)] = .stored(contents)
        index[contents.hash] = slot
        storedCount += 1
        lru.append(slot)
    }

    /// Holds a stored slot for a read: it leaves the LRU queue until
    /// `finishRead`, so no write takes it meanwhile.
    public mutating func beginRead(_ slot: Slot) {
        guard case .stored = states[Int(slot)] else { preconditionFailure("reading slot \(slot), which holds nothing") }
        if readers[Int(slot)] == 0 { lru.remove(slot) }
        readers[Int(slot)] += 1
    }

    /// Ends a read. A slot whose bytes failed (checksum, I/O) is dropped;
    /// one read successfully is most recently used.
    public mutating func finishRead(_ slot: Slot, succeeded: Bool) {
        precondition(readers[Int(slot)] > 0, "slot \(slot) was not being read")
        readers[Int(slot)] -= 1
        guard readers[Int(slot)] == 0 else {
            if !succeeded { forget(slot) }
            return
        }
        if case .stored = states[Int(slot)] {
            if succeeded { lru.append(slot) } else { forget(slot); release(slot) }
        } else {
            release(slot)  // dropped by a failed read while another was in flight
        }
    }

    /// Fills an empty index from the slots a tier file was found holding
    /// (after a restart), oldest serial first into the LRU queue. Returns
    /// the slots it dropped as duplicates of a newer copy.
    @discardableResult
    public mutating func recover(_ found: [(slot: Int, contents: Contents, serial: UInt64)]) -> Int {
        precondition(storedCount == 0 && writing.isEmpty, "recovering into an index in use")
        var dropped = 0
        for entry in found.sorted(by: { $0.serial > $1.serial }) where entry.slot < slotCount {
            guard states[entry.slot] == .free, index[entry.contents.hash] == nil, !entry.contents.isPartial else { dropped += 1; continue }
            states[entry.slot] = .stored(entry.contents)
            index[entry.contents.hash] = Slot(entry.slot)
            storedCount += 1
            nextSerial = max(nextSerial, entry.serial + 1)
        }
        freeList = (0..<Slot(slotCount)).reversed().filter { states[Int($0)] == .free }
        // Oldest first, so the least recently written is evicted first.
        for entry in found.sorted(by: { $0.serial < $1.serial }) where entry.slot < slotCount {
            if case let .stored(c) = states[entry.slot], c == entry.contents, index[c.hash] == Slot(entry.slot) { lru.append(Slot(entry.slot)) }
        }
        return dropped
    }

    /// Removes a stored slot from the index (it stays held if being read).
    private mutating func forget(_ slot: Slot) {
        guard case let .stored(contents) = states[Int(slot)] else { return }
        if index[contents.hash] == slot { index[contents.hash] = nil }
        states[Int(slot)] = .free
        storedCount -= 1
    }

    private mutating func release(_ slot: Slot) {
        precondition(states[Int(slot)] == .free && readers[Int(slot)] == 0)
        freeList.append(slot)
    }

    /// Stored, unread slots from least to most recently used.
    public var evictionOrder: [Slot] { lru.order }

    /// Every invariant stated above; a description of the first that fails.
    public func checkInvariants() -> String? {
        let free = Set(freeList)
        guard free.count == freeList.count else { return "a slot is on the free list twice" }
        let queue = evictionOrder
        guard queue.count == lru.count, Set(queue).count == queue.count else { return "LRU queue and count disagree" }
        let inQueue = Set(queue)
        var stored = 0, inFlight = 0
        for s in 0..<slotCount {
            let slot = Slot(s)
            switch states[s] {
            case .free:
                // A dropped slot still being read is neither free nor stored yet.
                guard free.contains(slot) != (readers[s] > 0) else { return "slot \(s) is free but \(readers[s] > 0 ? "listed while read" : "not listed")" }
                guard !inQueue.contains(slot) else { return "free slot \(s) is in the LRU queue" }
            case .writing(let c):
                inFlight += 1
                guard !free.contains(slot), !inQueue.contains(slot), writing[c.hash] == slot, readers[s] == 0 else {
                    return "slot \(s) being written is also listed elsewhere"
                }
            case .stored(let c):
                stored += 1
                guard !free.contains(slot), index[c.hash] == slot else { return "stored slot \(s) is not indexed" }
                guard inQueue.contains(slot) == (readers[s] == 0) else { return "stored slot \(s) is \(readers[s] == 0 ? "missing from" : "read while in") the LRU queue" }
            }
        }
        guard stored == storedCount, index.count == stored else { return "index of \(index.count) for \(stored) stored slots (count \(storedCount))" }
        guard inFlight == writing.count else { return "\(writing.count) writes listed for \(inFlight) slots being written" }
        let reading = (0..<slotCount).filter { readers[$0] > 0 && states[$0] == .free }.count
        guard freeList.count + inFlight + stored + reading == slotCount else { return "free + writing + stored != slot count" }
        return nil
    }
}
