import Foundation

/// Bytes appended and not yet consumed, addressed by offset from the first
/// unconsumed byte. Consuming only moves a read index; consumed bytes are
/// dropped on a later append, and only when they are at least half the
/// storage, so each byte is moved O(1) times however requests are pipelined.
/// Invariant: 0 <= readIndex <= storage.count.
struct InputBuffer: Sendable {
    private var storage: [UInt8] = []
    private var readIndex = 0

    /// Storage kept for reuse once everything is consumed; a larger one (after
    /// a big body) is released instead so an idle connection holds little.
    private static let retainedCapacity = 1 << 16

    var count: Int { storage.count - readIndex }

    mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        dropConsumed()
        storage.append(contentsOf: bytes)
    }

    mutating func consume(_ byteCount: Int) {
        precondition(byteCount <= count, "consuming more bytes than are buffered")
        readIndex += byteCount
    }

    subscript(offset: Int) -> UInt8 {
        storage[readIndex + offset]
    }

    /// The offset of the first LF at or after `start` and before `end`.
    func firstLineFeed(from start: Int, to end: Int) -> Int? {
        guard start < end else { return nil }
        return storage.withUnsafeBufferPointer { all in
            let base = all.baseAddress! + readIndex
            guard let found = memchr(base + start, Int32(ASCII.lf), end - start) else { return nil }
            return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// Calls `body` with the bytes at `offsets` (valid only inside `body`).
    func withBytes<Result, Failure: Error>(
        _ offsets: Range<Int>, _ body: (UnsafeBufferPointer<UInt8>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        precondition(offsets.upperBound <= count, "reading past the buffered bytes")
        return try storage.withUnsafeBufferPointer { (all) throws(Failure) -> Result in
            try body(UnsafeBufferPointer(rebasing: all[(readIndex + offsets.lowerBound)..<(readIndex + offsets.upperBound)]))
        }
    }

    /// Moves the first `byteCount` bytes to the end of `destination` in one copy.
    mutating func move(_ byteCount: Int, to destination: inout [UInt8]) {
        destination.append(contentsOf: storage[readIndex..<(readIndex + byteCount)])
        consume(byteCount)
    }

    private mutating func dropConsumed() {
        guard readIndex > 0 else { return }
        if readIndex == storage.count {
            storage.removeAll(keepingCapacity: storage.capacity <= Self.retainedCapacity)
            readIndex = 0
        } else if readIndex >= storage.count - readIndex {
            storage.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }
}
