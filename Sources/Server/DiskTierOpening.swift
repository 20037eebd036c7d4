import Engine
import Foundation
import Logging
import Model
import Storage

/// The disk tier cannot be opened at start-up.
public struct DiskTierUnusable: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String {
        "kv_disk_path '\(path)': \(reason); set kv_disk_path (KVSERVE_KV_DISK_PATH) to a writable file, or kv_disk_bytes to 0 to turn the disk tier off"
    }
}

extension APIServer {
    /// The configured disk tier over `arena`'s blocks, its index recovered
    /// from the file; nil when `kv_disk_bytes` is 0.
    /// `log` takes what start-up reports; failures at run time go to the
    /// `kvserve.kv-disk` logger.
    static func openDiskTier(_ c: Configuration, modelPath: String, arena: KVArena, log: (String) -> Void) throws -> DiskTier? {
        guard c.kvDiskBytes > 0 else { return nil }
        let path = c.kvDiskPath.isEmpty ? (c.dataDir as NSString).appendingPathComponent("kv-blocks.kvtier") : c.kvDiskPath
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch {
            throw DiskTierUnusable(path: path, reason: "its directory cannot be created (\(error.localizedDescription))")
        }
        let layout = BlockFileLayout(payloadBytes: arena.bytesPerBlock, segmentBytes: arena.segmentBytes, blockSize: arena.blockSize,
                                     fingerprint: try fingerprint(modelPath: modelPath, arena: arena))
        guard layout.slotCount(budget: c.kvDiskBytes) > 0 else {
            throw DiskTierUnusable(path: path, reason: "kv_disk_bytes (\(c.kvDiskBytes)) holds no block: one takes \(layout.slotBytes) bytes on disk, plus a 4096-byte header")
        }
        let file: BlockFile
        do {
            file = try BlockFile(path: path, layout: layout, budget: c.kvDiskBytes)
        } catch {
            throw DiskTierUnusable(path: path, reason: error.description)
        }
        file.warnings.forEach(log)
        let logger = Logger(label: "kvserve.kv-disk")
        let tier = DiskTier(file: file, memory: arena, log: { logger.warning("\($0)") })
        log("K/V disk tier: \(path), \(file.slotCount) blocks (\(c.kvDiskBytes >> 20) MiB), \(tier.index.storedCount) found from earlier runs")
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
