import Foundation
import Testing
@testable import KVDisk

@Suite struct BlockFileTests {
    let layout = BlockFileLayout(payloadBytes: 4 * 64, segmentBytes: 64, blockSize: 8, fingerprint: 0xABCD)

    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-blockfile-\(UUID().uuidString)").path
    }

    /// A payload whose bytes say which block they are.
    func payload(_ seed: UInt8) -> [UInt8] { (0..<layout.payloadBytes).map { UInt8(truncatingIfNeeded: $0 &* 7) ^ seed } }

    func block(_ n: Int) -> StoredBlock {
        StoredBlock(hash: UInt64(1000 + n), parent: UInt64(n), tokens: (0..<8).map { Int32(n * 8 + $0) }, serial: UInt64(n + 1))
    }

    /// Reads a slot into four separate segments, as the K/V arena hands them out.
    func read(_ file: BlockFile, slot: Int, expecting: StoredBlock) throws(BlockFileError) -> [UInt8] {
        let segments = (0..<4).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16) }
        defer { segments.forEach { $0.deallocate() } }
        try file.read(slot: slot, expecting: expecting, into: segments)
        return segments.flatMap { Array($0) }
    }

    func write(_ file: BlockFile, slot: Int, _ b: StoredBlock, _ bytes: [UInt8]) throws {
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        defer { raw.deallocate() }
        raw.copyBytes(from: bytes)
        try file.write(slot: slot, block: b, payload: UnsafeRawBufferPointer(raw))
    }

    @Test func checksumDoesNotDependOnHowTheStreamIsSplit() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 5) }
        let whole = bytes.withUnsafeBytes { Checksum64.of($0) }
        for cut in stride(from: 0, through: 992, by: 32) {
            var sum = Checksum64()
            bytes[..<cut].withUnsafeBytes { sum.update($0) }
            bytes[cut...].withUnsafeBytes { sum.update($0) }
            #expect(sum.value == whole, "split at \(cut)")
        }
        // Every single-bit flip, and a truncation, changes it.
        for i in stride(from: 0, to: 1000, by: 37) {
            for bit in 0..<8 {
                var flipped = bytes
                flipped[i] ^= UInt8(1 << bit)
                #expect(flipped.withUnsafeBytes { Checksum64.of($0) } != whole)
            }
        }
        #expect(bytes.dropLast().withUnsafeBytes { Checksum64.of($0) } != whole)
    }

    @Test func blocksComeBackBitExactAndTheHeadersRebuildTheIndex() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try BlockFile(path: path, layout: layout, budget: 4096 + 3 * layout.slotBytes)
        #expect(file.slotCount == 3 && file.warnings.isEmpty)
        try write(file, slot: 2, block(2), payload(2))
        try write(file, slot: 0, block(0), payload(0))
        #expect(try read(file, slot: 2, expecting: block(2)) == payload(2))
        #expect(try read(file, slot: 0, expecting: block(0)) == payload(0))
        // Asking a slot for another block is refused, not answered with its bytes.
        #expect(throws: BlockFileError.mismatch(slot: 0, reason: "it holds another block")) { try read(file, slot: 0, expecting: block(2)) }

        let reopened = try BlockFile(path: path, layout: layout, budget: 4096 + 3 * layout.slotBytes)
        #expect(reopened.warnings.isEmpty)
        #expect(reopened.recover().map(\.slot) == [0, 2])
        #expect(reopened.recover().map(\.block) == [block(0), block(2)])
        #expect(try read(reopened, slot: 2, expecting: block(2)) == payload(2))
        // A smaller budget drops the slots past it.
        let smaller = try BlockFile(path: path, layout: layout, budget: 4096 + 2 * layout.slotBytes)
        #expect(smaller.recover().map(\.slot) == [0])
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int) <= 4096 + 2 * layout.slotBytes)
    }

    @Test func aFlippedByteOrATruncationIsDetectedNeverHandedOut() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try BlockFile(path: path, layout: layout, budget: 4096 + 2 * layout.slotBytes)
        try write(file, slot: 0, block(0), payload(0))
        try write(file, slot: 1, block(1), payload(1))
        func flip(_ offset: Int) throws {
            let handle = try #require(FileHandle(forUpdatingAtPath: path))
            try handle.seek(toOffset: UInt64(offset))
            let byte = try #require(try handle.read(upToCount: 1)?.first)
            try handle.seek(toOffset: UInt64(offset))
            try handle.write(contentsOf: [byte ^ 1])
            try handle.close()
        }
        // Payload byte of slot 0.
        try flip(4096 + 4096 + 100)
        #expect(throws: BlockFileError.mismatch(slot: 0, reason: "the K/V bytes fail their checksum")) { try read(file, slot: 0, expecting: block(0)) }
        // A token id in slot 1's header: its header no longer checks, and recovery skips it.
        try flip(4096 + layout.slotBytes + 60)
        #expect(throws: BlockFileError.mismatch(slot: 1, reason: "the header is torn or not this file's")) { try read(file, slot: 1, expecting: block(1)) }
        #expect(file.recover().map(\.slot) == [0])
        // Cut inside slot 1's payload.
        try write(file, slot: 1, block(1), payload(1))
        #expect(truncate(path, off_t(4096 + layout.slotBytes + 4096 + 10)) == 0)
        #expect(throws: BlockFileError.truncated(slot: 1)) { try read(file, slot: 1, expecting: block(1)) }
    }

    @Test func aFileOfAnotherModelIsReplacedAndAnUnreadableOneSetAside() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try BlockFile(path: path, layout: layout, budget: 4096 + layout.slotBytes)
        try write(first, slot: 0, block(0), payload(0))
        let other = BlockFileLayout(payloadBytes: layout.payloadBytes, segmentBytes: 64, blockSize: 8, fingerprint: 0xBEEF)
        let replaced = try BlockFile(path: path, layout: other, budget: 4096 + other.slotBytes)
        #expect(replaced.warnings.count == 1 && replaced.warnings[0].contains("another model"))
        #expect(replaced.recover().isEmpty)

        try Data("not a tier file at all".utf8).write(to: URL(fileURLWithPath: path))
        let fresh = try BlockFile(path: path, layout: layout, budget: 4096 + layout.slotBytes)
        #expect(fresh.warnings.count == 1 && fresh.warnings[0].contains("set aside"))
        #expect(fresh.recover().isEmpty)
        let directory = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
        let aside = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(name + ".corrupt-") }
        #expect(aside.count == 1)
        for f in aside { try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(f)) }
        try write(fresh, slot: 0, block(0), payload(0))
        #expect(try read(fresh, slot: 0, expecting: block(0)) == payload(0))
    }

    @Test func anUnwritablePlaceIsAnErrorNamingIt() {
        #expect(throws: BlockFileError.self) { try BlockFile(path: "/proc/kvserve/no/such/tier", layout: layout, budget: 1 << 20) }
        do {
            _ = try BlockFile(path: "/proc/kvserve-tier", layout: layout, budget: 1 << 20)
            Issue.record("opened a tier file under /proc")
        } catch {
            #expect(error.description.contains("/proc/kvserve-tier"))
        }
    }
}
