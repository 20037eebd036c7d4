/// Ids `0..<capacity` in least-recently-used order: an intrusive doubly
/// linked list over two arrays indexed by id, so appending, removing and
/// finding the oldest are O(1). The block pool's cached blocks and the disk
/// tier's stored slots are both kept in one.
///
/// Invariant: an id is in the queue at most once; `count` is its length.
public struct LRUQueue: Sendable {
    private var previous: [Int32], next: [Int32]
    /// The least recently used id (-1: empty).
    public private(set) var first: Int32 = -1
    private var last: Int32 = -1
    public private(set) var count = 0

    public init(capacity: Int) {
        previous = Array(repeating: -1, count: capacity)
        next = Array(repeating: -1, count: capacity)
    }

    /// Puts `id`, not in the queue, at its most recently used end.
    public mutating func append(_ id: Int32) {
        let i = Int(id)
        previous[i] = last
        next[i] = -1
        if last >= 0 { next[Int(last)] = id } else { first = id }
        last = id
        count += 1
    }

    /// Takes `id`, which is in the queue, out of it.
    public mutating func remove(_ id: Int32) {
        let i = Int(id)
        let p = previous[i], n = next[i]
        if p >= 0 { next[Int(p)] = n } else { first = n }
        if n >= 0 { previous[Int(n)] = p } else { last = p }
        previous[i] = -1
        next[i] = -1
        count -= 1
    }

    /// The ids from least to most recently used.
    public var order: [Int32] {
        var order: [Int32] = []
        var id = first
        while id >= 0 { order.append(id); id = next[Int(id)] }
        return order
    }
}
