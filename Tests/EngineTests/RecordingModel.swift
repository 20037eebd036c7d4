@testable import Engine
import KVDisk
import Model

/// A stand-in model whose "keys and values" are the token and position
/// written at each slot, and whose logits are a hash of everything it reads
/// back through the block table. A block table pointing at a slot written for
/// another position or another token (an evicted, reused or overwritten
/// block) changes the logits and is counted in `violations`.
final class RecordingModel: PagedModel, KVBlockMemory, @unchecked Sendable {
    static let vocabulary = 8
    static let endOfSequence: TokenID = 7

    let contextLength: Int
    let blockSize: Int
    let blockCount: Int
    /// Per slot, (token, position + 1); (0, 0) is an empty slot. Raw memory,
    /// so that a disk tier can move blocks of it as bytes.
    private let slots: UnsafeMutableBufferPointer<Int32>
    private(set) var violations: [String] = []
    private(set) var forwardCalls = 0
    private(set) var largestBatch = 0

    init(contextLength: Int, blockSize: Int, blockCount: Int) {
        self.contextLength = contextLength
        self.blockSize = blockSize
        self.blockCount = blockCount
        slots = .allocate(capacity: 2 * blockSize * blockCount)
        slots.initialize(repeating: 0)
    }

    deinit { slots.deallocate() }

    var blockMemory: (any KVBlockMemory)? { self }
    var bytesPerBlock: Int { blockSize * 8 }
    var segmentBytes: Int { bytesPerBlock }
    func segments(ofBlock block: Int32) -> [UnsafeMutableRawBufferPointer] {
        [UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(slots)[(Int(block) * bytesPerBlock)..<(Int(block) + 1) * bytesPerBlock])]
    }

    func forward(_ batch: [ForwardSequence]) -> [[Float]?] {
        forwardCalls += 1
        largestBatch = max(largestBatch, batch.count)
        return batch.map { sequence in
            let end = sequence.startPosition + sequence.tokens.count
            precondition((end + blockSize - 1) / blockSize <= sequence.blockTable.count, "block table too short")
            for (i, token) in sequence.tokens.enumerated() {
                let at = slot(sequence.startPosition + i, sequence.blockTable)
                slots[2 * at] = token
                slots[2 * at + 1] = Int32(sequence.startPosition + i + 1)
            }
            guard sequence.wantsLogits else { return nil }
            var seen: [TokenID] = []
            for position in 0..<end {
                let at = slot(position, sequence.blockTable)
                let (token, stored) = (slots[2 * at], Int(slots[2 * at + 1]) - 1)
                guard stored >= 0 else {
                    violations.append("position \(position) reads an empty slot"); seen.append(-1); continue
                }
                if stored != position { violations.append("position \(position) reads position \(stored)'s slot") }
                seen.append(token)
            }
            // The last `logitRows` positions' logits, each from the tokens through it.
            return ((end - sequence.logitRows)..<end).flatMap { Self.logits(Array(seen[...$0])) }
        }
    }

    private func slot(_ position: Int, _ table: [Int32]) -> Int {
        Int(table[position / blockSize]) * blockSize + position % blockSize
    }

    /// The reference: logits as a function of the whole token sequence.
    static func logits(_ tokens: [TokenID]) -> [Float] {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        for (position, token) in tokens.enumerated() {
            h = (h ^ UInt64(bitPattern: Int64(token)) ^ UInt64(position) << 32) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 29
        }
        return (0..<vocabulary).map { Float((h >> UInt64(8 * $0)) & 0xFF) }
    }

    /// The greedy reply to `tokens` computed directly, without any cache.
    static func greedyReply(to tokens: [TokenID], maxTokens: Int, ignoreEOS: Bool) -> (reply: [TokenID], history: [TokenID]) {
        var all = tokens, reply: [TokenID] = []
        while reply.count < maxTokens {
            let next = argmax(logits(all))
            all.append(next)
            if next == endOfSequence && !ignoreEOS { break }
            reply.append(next)
        }
        return (reply, all)
    }
}
