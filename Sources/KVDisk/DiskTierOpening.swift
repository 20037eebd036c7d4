import Foundation
import Model

/// The disk tier cannot be opened at start-up.
public struct DiskTierUnusable: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String {
        "kv_disk_path '\(path)': \(reason); set kv_disk_path (KVSERVE_KV_DISK_PATH) to a writable file, or kv_disk_bytes to 0 to turn the disk tier off"
    }
}

extension DiskTier {
    /// The disk tier in the file at `path`, at most `budget` bytes, over
    /// `arena`'s blocks, its index recovered from the file (blocks of
    /// another model or geometry are not taken: the file's fingerprint).
    /// `log` takes what opening reports; `warn`, failures at run time.
    public static func open(path: String, budget: Int, modelPath: String, arena: KVArena,
                            log: (String) -> Void, warn: @escaping @Sendable (String) -> Void) throws -> DiskTier {
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch {
            throw DiskTierUnusable(path: path, reason: "its directory cannot be created (\(error.localizedDescription))")
        }
        let layout = BlockFileLayout(payloadBytes: arena.bytesPerBlock, segmentBytes: arena.segmentBytes, blockSize: arena.blockSize,
                                     fingerprint: try fingerprint(modelPath: modelPath, arena: arena))
        guard layout.slotCount(budget: budget) > 0 else {
            throw DiskTierUnusable(path: path, reason: "kv_disk_bytes (\(budget)) holds no block: one takes \(layout.slotBytes) bytes on disk, plus a 4096-byte header")
        }
        let file: BlockFile
        do {
            file = try BlockFile(path: path, layout: layout, budget: budget)
        } catch {
            throw DiskTierUnusable(path: path, reason: error.description)
        }
        file.warnings.forEach(log)
        let tier = DiskTier(file: file, memory: arena, log: warn)
        log("K/V disk tier: \(path), \(file.slotCount) blocks (\(budget >> 20) MiB), \(tier.index.storedCount) found from earlier runs")
        return tier
    }

    /// What the tier's bytes belong to: the model file's contents (read, not
    /// mapped, so its pages do not count as this process's memory) and the
    /// K/V element type and geometry.
    static func fingerprint(modelPath: String, arena: KVArena) throws -> UInt64 {
        guard let handle = FileHandle(forReadingAtPath: modelPath) else {
            throw DiskTierUnusable(path: modelPath, reason: "the model file cannot be read to fingerprint it")
        }
        defer { try? handle.close() }
        var sum = Checksum64()
        while let chunk = try handle.read(upToCount: 8 << 20), !chunk.isEmpty {
            chunk.withUnsafeBytes { sum.update($0) }
            if chunk.count % 32 != 0 { break }  // the last piece
        }
        let geometry = "\(arena.elementType.rawValue) \(arena.layers) \(arena.kvHeads) \(arena.headDimension) \(arena.blockSize)"
        return Array("\(sum.value) \(geometry)".utf8).withUnsafeBytes { Checksum64.of($0) }
    }
}
