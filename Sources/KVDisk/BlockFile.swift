import Foundation

/// The shape of a tier file: what one block's bytes are and whose they are.
public struct BlockFileLayout: Sendable, Equatable {
    /// K/V bytes of one block.
    public let payloadBytes: Int
    /// The payload moves as segments of this many bytes (a block's pieces
    /// in the K/V arena); a multiple of 32 bytes (see `Checksum64`).
    public let segmentBytes: Int
    /// Token ids per block.
    public let blockSize: Int
    /// The model and K/V geometry the bytes belong to: a file written for
    /// anything else is never read.
    public let fingerprint: UInt64

    public init(payloadBytes: Int, segmentBytes: Int, blockSize: Int, fingerprint: UInt64) {
        precondition(payloadBytes > 0 && segmentBytes > 0 && payloadBytes % segmentBytes == 0 && segmentBytes % 32 == 0)
        precondition(blockSize > 0 && blockSize <= 4096)
        self.payloadBytes = payloadBytes
        self.segmentBytes = segmentBytes
        self.blockSize = blockSize
        self.fingerprint = fingerprint
    }

    static let page = 4096
    static func pages(_ bytes: Int) -> Int { (bytes + page - 1) / page * page }

    /// A slot is a header page (ids, hashes, checksums) and the payload,
    /// each page-aligned.
    var headerBytes: Int { Self.pages(BlockFile.Slot.tokensOffset + 4 * blockSize + 8) }
    public var slotBytes: Int { headerBytes + Self.pages(payloadBytes) }
    /// Slots that `budget` bytes of file hold, after the file's own header page.
    public func slotCount(budget: Int) -> Int { max(0, budget - Self.page) / slotBytes }
}

/// What a slot holds: a block's place in a token chain, and when it was written.
public struct StoredBlock: Sendable, Equatable {
    public let hash: UInt64
    public let parent: UInt64
    public let tokens: [Int32]
    /// Larger for later writes: the order in which slots were filled.
    public let serial: UInt64

    public init(hash: UInt64, parent: UInt64, tokens: [Int32], serial: UInt64) {
        self.hash = hash
        self.parent = parent
        self.tokens = tokens
        self.serial = serial
    }
}

public enum BlockFileError: Error, Equatable, CustomStringConvertible {
    /// A system call failed.
    case io(path: String, operation: String, code: Int32)
    /// The slot ends before its payload does (a truncated file).
    case truncated(slot: Int)
    /// The slot holds something other than what was asked for, or its
    /// bytes fail their checksum.
    case mismatch(slot: Int, reason: String)

    public var description: String {
        switch self {
        case let .io(path, operation, code): return "\(path): \(operation) failed: \(String(cString: strerror(code)))"
        case let .truncated(slot): return "slot \(slot) is cut short (the file was truncated)"
        case let .mismatch(slot, reason): return "slot \(slot): \(reason)"
        }
    }
}

/// The disk tier's bytes: one file of fixed-size slots, each holding one
/// K/V block behind a header that names it (chain hash, parent hash, token
/// ids) and checksums both itself and the payload. The file is its own
/// index: `recover` rebuilds what it holds from the headers, so nothing but
/// the slots needs writing. A torn or flipped slot fails its checksum and is
/// reported, never handed out. Reads and writes are positioned (pread,
/// pwrite), safe from several threads on different slots; which slot holds
/// what is decided by the caller (KVCache's `DiskTierIndex`).
public final class BlockFile: @unchecked Sendable {
    public let path: String
    public let layout: BlockFileLayout
    public let slotCount: Int
    /// What happened at opening that an operator should know (a file set aside).
    public private(set) var warnings: [String] = []
    private let descriptor: Int32

    enum Header {
        static let magic: UInt64 = 0x3130_5245_4954_564B  // "KVTIER01"
        static let checksumOffset = 56
    }
    enum Slot {
        static let magic: UInt64 = 0x3130_544F_4C53_564B  // "KVSLOT01"
        static let tokensOffset = 56
    }

    /// Opens (or creates) the tier file at `path` with as many slots as
    /// `budget` bytes hold. A file that is not a tier file, or is corrupt at
    /// its head, is set aside (renamed `.corrupt-<time>`); one written for
    /// another model or geometry is replaced; either way a warning says so.
    public init(path: String, layout: BlockFileLayout, budget: Int) throws(BlockFileError) {
        self.path = path
        self.layout = layout
        slotCount = layout.slotCount(budget: budget)
        // 0600: the blocks are a readable trace of every conversation.
        var fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(path: path, operation: "open", code: errno) }
        var header = [UInt8](repeating: 0, count: BlockFileLayout.page)
        let got = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        if got > 0 {
            switch Self.check(header: header, against: layout) {
            case .ok:
                break
            case .otherLayout:
                warnings.append("\(path) holds K/V blocks of another model or block geometry; starting it afresh")
                guard ftruncate(fd, 0) == 0 else { let e = errno; close(fd); throw .io(path: path, operation: "truncate", code: e) }
            case .corrupt(let reason):
                close(fd)
                let aside = path + ".corrupt-\(Int(Date().timeIntervalSince1970))"
                guard rename(path, aside) == 0 else { throw .io(path: path, operation: "rename to \(aside)", code: errno) }
                warnings.append("\(path) is not a readable K/V tier file (\(reason)); set aside as \(aside), starting afresh")
                fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw .io(path: path, operation: "open", code: errno) }
            }
        }
        descriptor = fd
        if got <= 0 || Self.check(header: header, against: layout) != .ok {
            let fresh = Self.header(for: layout)
            let wrote = fresh.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            guard wrote == fresh.count else { let e = errno; close(fd); throw .io(path: path, operation: "write header", code: e) }
        }
        // A smaller budget than last time: the slots past it are dropped.
        let end = off_t(BlockFileLayout.page + slotCount * layout.slotBytes)
        var status = stat()
        if fstat(fd, &status) == 0, status.st_size > end { _ = ftruncate(fd, end) }
    }

    deinit { close(descriptor) }

    enum HeaderCheck: Equatable { case ok, otherLayout, corrupt(String) }

    static func header(for layout: BlockFileLayout) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: BlockFileLayout.page)
        bytes.withUnsafeMutableBytes { b in
            b.storeBytes(of: Header.magic.littleEndian, toByteOffset: 0, as: UInt64.self)
            b.storeBytes(of: UInt32(1).littleEndian, toByteOffset: 8, as: UInt32.self)
            for (i, v) in [layout.fingerprint, UInt64(layout.payloadBytes), UInt64(layout.segmentBytes),
                           UInt64(layout.blockSize), UInt64(layout.headerBytes)].enumerated() {
                b.storeBytes(of: v.littleEndian, toByteOffset: 16 + 8 * i, as: UInt64.self)
            }
            let sum = Checksum64.of(UnsafeRawBufferPointer(rebasing: b[0..<Header.checksumOffset]))
            b.storeBytes(of: sum.littleEndian, toByteOffset: Header.checksumOffset, as: UInt64.self)
        }
        return bytes
    }

    static func check(header: [UInt8], against layout: BlockFileLayout) -> HeaderCheck {
        header.withUnsafeBytes { b in
            func word(_ offset: Int) -> UInt64 { UInt64(littleEndian: b.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
            guard word(0) == Header.magic else { return .corrupt("no tier file header") }
            guard word(Header.checksumOffset) == Checksum64.of(UnsafeRawBufferPointer(rebasing: b[0..<Header.checksumOffset])) else {
                return .corrupt("its header fails its checksum")
            }
            let mine = Self.header(for: layout)
            return mine.prefix(Header.checksumOffset).elementsEqual(header.prefix(Header.checksumOffset)) ? .ok : .otherLayout
        }
    }

    private func offset(_ slot: Int) -> off_t { off_t(BlockFileLayout.page + slot * layout.slotBytes) }

    /// The header page of a slot holding `block` with payload checksum `sum`.
    private func slotHeader(_ block: StoredBlock, payloadChecksum sum: UInt64) -> [UInt8] {
        precondition(block.tokens.count <= layout.blockSize)
        var bytes = [UInt8](repeating: 0, count: layout.headerBytes)
        bytes.withUnsafeMutableBytes { b in
            for (i, v) in [Slot.magic, layout.fingerprint, block.serial, block.hash, block.parent, sum].enumerated() {
                b.storeBytes(of: v.littleEndian, toByteOffset: 8 * i, as: UInt64.self)
            }
            b.storeBytes(of: UInt32(block.tokens.count).littleEndian, toByteOffset: 48, as: UInt32.self)
            for (i, t) in block.tokens.enumerated() {
                b.storeBytes(of: t.littleEndian, toByteOffset: Slot.tokensOffset + 4 * i, as: Int32.self)
            }
            let end = Slot.tokensOffset + 4 * block.tokens.count
            b.storeBytes(of: Checksum64.of(UnsafeRawBufferPointer(rebasing: b[0..<end])).littleEndian, toByteOffset: end, as: UInt64.self)
        }
        return bytes
    }

    /// The block a slot header names and its payload checksum; nil when the
    /// header is not a valid one of this file's.
    private func parse(_ header: UnsafeRawBufferPointer) -> (block: StoredBlock, payloadChecksum: UInt64)? {
        func word(_ offset: Int) -> UInt64 { UInt64(littleEndian: header.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        guard word(0) == Slot.magic, word(8) == layout.fingerprint else { return nil }
        let count = Int(UInt32(littleEndian: header.loadUnaligned(fromByteOffset: 48, as: UInt32.self)))
        guard count <= layout.blockSize else { return nil }
        let end = Slot.tokensOffset + 4 * count
        guard word(end) == Checksum64.of(UnsafeRawBufferPointer(rebasing: header[0..<end])) else { return nil }
        let tokens = (0..<count).map { Int32(littleEndian: header.loadUnaligned(fromByteOffset: Slot.tokensOffset + 4 * $0, as: Int32.self)) }
        return (StoredBlock(hash: word(24), parent: word(32), tokens: tokens, serial: word(16)), word(40))
    }

    /// Writes `block` with its payload into `slot`.
    public func write(slot: Int, block: StoredBlock, payload: UnsafeRawBufferPointer) throws(BlockFileError) {
        precondition(slot >= 0 && slot < slotCount && payload.count == layout.payloadBytes)
        let header = UnsafeMutableRawBufferPointer.allocate(byteCount: layout.headerBytes, alignment: 16)
        defer { header.deallocate() }
        slotHeader(block, payloadChecksum: Checksum64.of(payload)).withUnsafeBytes { header.copyMemory(from: $0) }
        try transfer(write: true, [header, UnsafeMutableRawBufferPointer(mutating: payload)], at: offset(slot), slot: slot)
    }

    /// Reads `slot` into `segments` (the payload, in order), checking that
    /// it holds `expected` (hash, parent and tokens; any serial) and that
    /// its bytes pass their checksum. On a throw the segments hold garbage.
    public func read(slot: Int, expecting expected: StoredBlock, into segments: [UnsafeMutableRawBufferPointer]) throws(BlockFileError) {
        precondition(slot >= 0 && slot < slotCount && segments.reduce(0, { $0 + $1.count }) == layout.payloadBytes)
        let header = UnsafeMutableRawBufferPointer.allocate(byteCount: layout.headerBytes, alignment: 16)
        defer { header.deallocate() }
        try transfer(write: false, [header] + segments, at: offset(slot), slot: slot)
        guard let (stored, sum) = parse(UnsafeRawBufferPointer(header)) else {
            throw .mismatch(slot: slot, reason: "the header is torn or not this file's")
        }
        guard stored.hash == expected.hash, stored.parent == expected.parent, stored.tokens == expected.tokens else {
            throw .mismatch(slot: slot, reason: "it holds another block")
        }
        var checksum = Checksum64()
        for segment in segments { checksum.update(UnsafeRawBufferPointer(segment)) }
        guard checksum.value == sum else { throw .mismatch(slot: slot, reason: "the K/V bytes fail their checksum") }
    }

    /// The valid slot headers, in slot order: what the file holds (payloads
    /// are checked when read). Slots past the end of the file are empty.
    public func recover() -> [(slot: Int, block: StoredBlock)] {
        var found: [(slot: Int, block: StoredBlock)] = []
        let header = UnsafeMutableRawBufferPointer.allocate(byteCount: layout.headerBytes, alignment: 16)
        defer { header.deallocate() }
        for slot in 0..<slotCount {
            let got = pread(descriptor, header.baseAddress, header.count, offset(slot))
            if got < header.count { break }
            if let (block, _) = parse(UnsafeRawBufferPointer(header)) { found.append((slot, block)) }
        }
        return found
    }

    /// Writes dirty pages out and drops the file's pages from the page cache,
    /// so that the next reads come from the disk (for benchmarks).
    public func dropPageCache() {
        _ = fdatasync(descriptor)
        _ = posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_DONTNEED))
    }

    /// Reads or writes `buffers` back to back from `start`, resuming after
    /// short transfers and interruptions.
    private func transfer(write: Bool, _ buffers: [UnsafeMutableRawBufferPointer], at start: off_t, slot: Int) throws(BlockFileError) {
        var vectors = buffers.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
        var position = start, first = 0
        while first < vectors.count {
            let count = Int32(min(vectors.count - first, 512))
            let done = vectors.withUnsafeBufferPointer { v in
                write ? pwritev(descriptor, v.baseAddress! + first, count, position)
                      : preadv(descriptor, v.baseAddress! + first, count, position)
            }
            if done < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: write ? "write" : "read", code: errno)
            }
            if done == 0 { throw write ? .io(path: path, operation: "write", code: EIO) : .truncated(slot: slot) }
            position += off_t(done)
            var left = done
            while left > 0 {
                let length = vectors[first].iov_len
                if left >= length {
                    left -= length
                    first += 1
                } else {
                    vectors[first].iov_base = vectors[first].iov_base! + left
                    vectors[first].iov_len -= left
                    left = 0
                }
            }
            while first < vectors.count && vectors[first].iov_len == 0 { first += 1 }
        }
    }
}
