/// Element type of cached keys and values. q8_0 keeps each 32 consecutive
/// dimensions of one position's head vector as 32 signed bytes and one f16
/// scale (`KVQuantizer`): 34 bytes where f16 takes 64.
public enum KVElementType: String, Sendable, CaseIterable {
    case f16, f32, q8_0

    /// Bytes of one position's key (or value) vector of one head, scales included.
    public func bytesPerVector(headDimension: Int) -> Int {
        switch self {
        case .f16: 2 * headDimension
        case .f32: 4 * headDimension
        case .q8_0: headDimension + 2 * (headDimension / KVQuantizer.groupSize)
        }
    }

    /// What this type's block chains mix into their root (the parent hash of
    /// block 0), so that blocks of one type never stand for another's in
    /// any index of chain hashes; nil for f16, whose chains stay rooted in
    /// the bare salt as they were before there were other types (disk tier
    /// files and stored sessions keep matching).
    public var chainTag: Int32? {
        switch self {
        case .f16: nil
        case .f32: 0x0066_3332  // "f32"
        case .q8_0: 0x7138_5F30  // "q8_0"
        }
    }

    /// What the head dimension must be a multiple of: the attention kernel
    /// reads 8 dimensions at a time, and q8_0 scales whole 32-groups.
    public var headDimensionMultiple: Int { self == .q8_0 ? KVQuantizer.groupSize : 8 }
}

/// The memory that holds keys and values, as `blockCount` blocks of
/// `blockSize` positions. The model reads and writes it through block tables
/// it is handed; who owns which block is decided elsewhere (KVCache).
///
/// Layout: layer, K or V, KV head, block, then within one head's block:
/// keys dimension-major ([dimension][slot], so attention scores 8 positions
/// with one vector load per dimension) and values position-major ([slot][dimension],
/// so a weighted sum adds whole value vectors). A block size that is a
/// multiple of 8 keeps every 8-slot group inside one block. Blocks are the
/// innermost of the outer dimensions so that attention, which reads one
/// layer and head at a time, streams through consecutive blocks of a
/// sequence instead of jumping a whole block's worth of layers between them.
///
/// q8_0 keeps the same two orders for the bytes, and puts each head's f16
/// scales after its bytes, in the block's head piece (so the disk tier,
/// which moves those pieces, moves the scales with them): keys' scales
/// [group][slot] (8 slots' scales are one vector load, like their bytes),
/// values' [slot][group].
public final class KVArena: @unchecked Sendable {
    public let blockSize: Int
    public let blockCount: Int
    public let layers: Int
    public let kvHeads: Int
    public let headDimension: Int
    public let elementType: KVElementType
    private let storage: UnsafeMutableRawPointer
    /// Owns `storage` when it lives on huge pages (zero-filled by the kernel).
    private let memory: HugePageRegion?
    /// Bytes of one head's vectors in one block, and of that for every block.
    private let headStride: Int, planeStride: Int
    /// Bytes of one block across all layers, sides and heads.
    private let blockStride: Int

    public convenience init(hyperparameters h: ModelHyperparameters, elementType: KVElementType, blockSize: Int, blockCount: Int) {
        self.init(layers: h.blockCount, kvHeads: h.headCountKV, headDimension: h.headDimension,
                  elementType: elementType, blockSize: blockSize, blockCount: blockCount)
    }

    public init(layers: Int, kvHeads: Int, headDimension: Int, elementType: KVElementType, blockSize: Int, blockCount: Int) {
        precondition(blockSize > 0 && blockSize % 8 == 0 && blockCount > 0, "block size must be a positive multiple of 8")
        precondition(headDimension % elementType.headDimensionMultiple == 0,
                     "head dimension must be a multiple of \(elementType.headDimensionMultiple) for \(elementType.rawValue)")
        self.blockSize = blockSize
        self.blockCount = blockCount
        self.layers = layers
        self.kvHeads = kvHeads
        self.headDimension = headDimension
        self.elementType = elementType
        headStride = blockSize * elementType.bytesPerVector(headDimension: headDimension)
        planeStride = blockCount * headStride
        blockStride = layers * 2 * kvHeads * headStride
        // Huge pages: every token reads each layer's keys and values for its
        // whole context, tens of MB at long context.
        if let region = HugePageRegion(byteCount: blockCount * blockStride) {
            memory = region
            storage = region.base
        } else {
            memory = nil
            storage = UnsafeMutableRawPointer.allocate(byteCount: blockCount * blockStride, alignment: 64)
        }
        // Touch every page now: faulting (and zeroing) huge pages one by one
        // while tokens decode made the first thousand steps slower.
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: blockCount * blockStride)
    }

    deinit { if memory == nil { storage.deallocate() } }

    public var byteCount: Int { blockCount * blockStride }
    public var bytesPerBlock: Int { blockStride }

    /// Start of the `blockSize` vectors of one head (K when `value` is false).
    @inline(__always)
    func vectors(block: Int32, layer: Int, value: Bool, head: Int) -> UnsafeMutableRawPointer {
        storage + ((layer * 2 + (value ? 1 : 0)) * kvHeads + head) * planeStride + Int(block) * headStride
    }

    /// Where a q8_0 head's scales start in its block, after its bytes.
    var scaleOffset: Int { blockSize * headDimension }

    /// Stores one head's key or value for a position.
    @inline(__always)
    func store(_ source: UnsafePointer<Float>, block: Int32, slot: Int, layer: Int, value: Bool, head: Int) {
        store(source - head * headDimension, elements: (head * headDimension)..<((head + 1) * headDimension),
              block: block, slot: slot, layer: layer, value: value)
    }

    /// Stores elements `elements` of a position's keys or values, all KV
    /// heads side by side in `row` (what one part of the K/V product computed).
    /// q8_0 needs whole 32-groups, so its ranges must start and end on them.
    @inline(__always)
    func store(_ row: UnsafePointer<Float>, elements: Range<Int>, block: Int32, slot: Int, layer: Int, value: Bool) {
        var e = elements.lowerBound
        while e < elements.upperBound {
            let head = e / headDimension, first = e % headDimension
            let n = min(elements.upperBound - e, headDimension - first)
            let base = vectors(block: block, layer: layer, value: value, head: head)
            // Keys go down a column of [dimension][slot], values along a row of [slot][dimension].
            let start = value ? slot * headDimension : slot, step = value ? 1 : blockSize
            let source = row + e
            switch elementType {
            case .f32:
                let out = base.assumingMemoryBound(to: Float.self) + start
                for i in 0..<n { out[(first + i) * step] = source[i] }
            case .f16:
                let out = base.assumingMemoryBound(to: Float16.self) + start
                for i in 0..<n { out[(first + i) * step] = Float16(source[i]) }
            case .q8_0:
                let group = KVQuantizer.groupSize, groups = headDimension / group
                precondition(first % group == 0 && n % group == 0, "q8_0 stores whole groups of \(group) dimensions")
                let out = base.assumingMemoryBound(to: Int8.self) + start
                let scales = (base + scaleOffset).assumingMemoryBound(to: Float16.self)
                for g in stride(from: first, to: first + n, by: group) {
                    // Keys' scales go [group][slot], values' [slot][group], like their bytes.
                    let scale = value ? scales + slot * groups + g / group : scales + (g / group) * blockSize + slot
                    scale.pointee = KVQuantizer.quantize(source + (g - first), into: out + g * step, step: step)
                }
            }
            e += n
        }
    }
}

extension KVArena {
    /// Bytes of one head's vectors in one block: the piece in which a block's
    /// bytes lie contiguous in the arena.
    public var segmentBytes: Int { headStride }

    /// One block's memory as its pieces, in layer, K-then-V, head order:
    /// what a block's bytes are when moved to and from the disk tier.
    public func segments(ofBlock block: Int32) -> [UnsafeMutableRawBufferPointer] {
        precondition(block >= 0 && Int(block) < blockCount)
        var pieces: [UnsafeMutableRawBufferPointer] = []
        pieces.reserveCapacity(layers * 2 * kvHeads)
        for layer in 0..<layers {
            for value in [false, true] {
                for head in 0..<kvHeads {
                    pieces.append(UnsafeMutableRawBufferPointer(start: vectors(block: block, layer: layer, value: value, head: head),
                                                                count: headStride))
                }
            }
        }
        return pieces
    }

    /// The raw bytes of one block (tests compare cached K/V bitwise).
    public func blockBytes(_ block: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(bytesPerBlock)
        for piece in segments(ofBlock: block) { bytes += UnsafeRawBufferPointer(piece) }
        return bytes
    }
}
