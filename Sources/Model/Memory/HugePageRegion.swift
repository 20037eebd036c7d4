#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Anonymous, zero-filled memory that Linux may back with 2 MiB pages.
///
/// Weights and the KV cache are streamed from memory on every token. With
/// 4 KiB pages a token of SmolLM2 crosses some 24,000 pages: a TLB miss at
/// each, and the hardware prefetcher stops at every page boundary. With
/// transparent huge pages the same walk crosses about 50.
public final class HugePageRegion: @unchecked Sendable {
    public static let hugePageBytes = 2 << 20

    /// The usable bytes, aligned to a huge page.
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int
    private let mapping: UnsafeMutableRawPointer
    private let mappingBytes: Int

    /// Nil when the system refuses the mapping (out of address space).
    public init?(byteCount: Int) {
        let huge = Self.hugePageBytes
        let rounded = (max(byteCount, 1) + huge - 1) / huge * huge
        mappingBytes = rounded + huge
        guard let p = mmap(nil, mappingBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              p != MAP_FAILED else { return nil }
        mapping = p
        let aligned = (Int(bitPattern: p) + huge - 1) / huge * huge
        base = UnsafeMutableRawPointer(bitPattern: aligned)!
        self.byteCount = byteCount
        #if os(Linux)
        // Advice only: without transparent huge pages this is ordinary memory.
        _ = madvise(base, rounded, MADV_HUGEPAGE)
        #endif
    }

    deinit { munmap(mapping, mappingBytes) }
}
