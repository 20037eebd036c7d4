import Foundation
import Testing
@testable import KVDisk
import KVCache
@testable import Model

/// The disk tier over a q8_0 arena: a block's bytes and scales come back
/// exactly, and a tier file of one K/V type is never read by a server of
/// another (the fingerprint names the type).
@Suite struct Q8DiskTierTests {
    @Test func aQ8_0BlockComesBackExactlyAndOnlyToQ8_0() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-q8-tier-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let modelPath = directory + "/model.gguf", path = directory + "/blocks.kvtier"
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 13) }).write(to: URL(fileURLWithPath: modelPath))
        func arena(_ type: KVElementType) -> KVArena {
            KVArena(layers: 2, kvHeads: 2, headDimension: 64, elementType: type, blockSize: 8, blockCount: 4)
        }
        let q8 = arena(.q8_0)
        // Quantized keys and values in every slot of block 1.
        var rng = SplitMix64(seed: 5)
        for layer in 0..<2 {
            for slot in 0..<8 {
                for value in [false, true] {
                    let row = (0..<128).map { _ in Float(Int(rng.next() % 2001) - 1000) / 300 }
                    row.withUnsafeBufferPointer { q8.store($0.baseAddress!, elements: 0..<128, block: 1, slot: slot, layer: layer, value: value) }
                }
            }
        }
        var logs: [String] = []
        func open(_ memory: KVArena) throws -> DiskTier {
            try DiskTier.open(path: path, budget: 1 << 20, modelPath: modelPath, arena: memory, log: { logs.append($0) }, warn: { _ in })
        }
        let contents = BlockPool.Contents(hash: 77, tokens: (0..<8).map { Int32($0) }, parent: 5)
        do {
            let tier = try open(q8)
            tier.store(contents, from: 1)
            tier.waitForWrites()
            _ = tier.drain()
            let slot = try #require(tier.slot(of: contents))
            tier.read(load: 0, [(slot: slot, contents: contents, block: 2)], beforeReading: {})
            tier.waitForRead()
            #expect(tier.drain().map(\.outcomes) == [[true]])
            #expect(q8.blockBytes(2) == q8.blockBytes(1) && q8.blockBytes(1).contains { $0 != 0 })
        }
        // A q8_0 server finds the block again; an f16 (or f32) one of the same
        // geometry takes the file for another model's and starts it afresh.
        #expect(try open(arena(.q8_0)).index.storedCount == 1)
        logs.removeAll()
        #expect(try open(arena(.f16)).index.storedCount == 0)
        #expect(logs.contains { $0.contains("another model") }, "\(logs)")
        let fingerprints = try KVElementType.allCases.map { try DiskTier.fingerprint(modelPath: modelPath, arena: arena($0)) }
        #expect(Set(fingerprints).count == KVElementType.allCases.count)
    }
}
