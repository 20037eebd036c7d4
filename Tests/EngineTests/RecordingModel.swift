@testable import Engine
import Model

/// A stand-in model whose "keys and values" are the token and position
/// written at each slot, and whose logits are a hash of everything it reads
/// back through the block table. A block table pointing at a slot written for
/// another position or another token (an evicted, reused or overwritten
/// block) changes the logits and is counted in `violations`.
final class RecordingModel: PagedModel {
    static let vocabulary = 8
    static let endOfSequence: TokenID = 7

    let contextLength: Int
    let blockSize: Int
    let blockCount: Int
    private var slots: [(token: TokenID, position: Int)?]
    private(set) var violations: [String] = []
    private(set) var forwardCalls = 0
    private(set) var largestBatch = 0

    init(contextLength: Int, blockSize: Int, blockCount: Int) {
        self.contextLength = contextLength
        self.blockSize = blockSize
        self.blockCount = blockCount
        slots = Array(repeating: nil, count: blockSize * blockCount)
    }

    func forward(_ batch: [ForwardSequence]) -> [[Float]?] {
        forwardCalls += 1
        largestBatch = max(largestBatch, batch.count)
        return batch.map { sequence in
            let end = sequence.startPosition + sequence.tokens.count
            precondition((end + blockSize - 1) / blockSize <= sequence.blockTable.count, "block table too short")
            for (i, token) in sequence.tokens.enumerated() {
                slots[slot(sequence.startPosition + i, sequence.blockTable)] = (token, sequence.startPosition + i)
            }
            guard sequence.wantsLogits else { return nil }
            var seen: [TokenID] = []
            for position in 0..<end {
                guard let stored = slots[slot(position, sequence.blockTable)] else {
                    violations.append("position \(position) reads an empty slot"); seen.append(-1); continue
                }
                if stored.position != position { violations.append("position \(position) reads position \(stored.position)'s slot") }
                seen.append(stored.token)
            }
            return Self.logits(seen)
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
