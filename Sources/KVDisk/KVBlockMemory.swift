import Model

/// A model's K/V memory seen as opaque blocks of bytes: what moves between
/// the RAM pool and the disk tier. A block's bytes are its segments, in order.
public protocol KVBlockMemory: AnyObject, Sendable {
    var bytesPerBlock: Int { get }
    /// Every segment's size; segments are multiples of 32 bytes.
    var segmentBytes: Int { get }
    func segments(ofBlock block: Int32) -> [UnsafeMutableRawBufferPointer]
}

extension KVArena: KVBlockMemory {}
