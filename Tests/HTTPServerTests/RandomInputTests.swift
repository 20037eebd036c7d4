import Testing
@testable import HTTPServer

/// Seeded random inputs and mutations of valid requests: the parser never
/// traps, refuses only with its statuses, and says the same however the
/// input is split.
@Suite struct RandomInputTests {
    static let statuses: Set = [400, 413, 414, 417, 431, 501, 505]

    /// SplitMix64: small, seedable, the same on every platform.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Bytes that matter to the grammar, drawn more often than the rest.
    static let interesting: [UInt8] = Array("\r\n\r\n \t:;=\",0aF/?*HTTP/1.1 chunked Host Content-Length Transfer-Encoding".utf8) + [0, 0x7F, 0xFF]

    @Test func randomBytes() {
        var random = SeededGenerator(state: 1)
        for _ in 0..<3_000 {
            let length = Int.random(in: 0...120, using: &random)
            let bytes = (0..<length).map { _ in
                Bool.random(using: &random) ? Self.interesting.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
            }
            check(bytes, using: &random)
        }
    }

    @Test func mutatedValidRequests() {
        var random = SeededGenerator(state: 2)
        let valid = Fixtures.validRequests.map(\.bytes)
        for _ in 0..<5_000 {
            var bytes = valid.randomElement(using: &random)!
            for _ in 0...Int.random(in: 0...3, using: &random) {
                mutate(&bytes, using: &random)
            }
            check(bytes, using: &random)
        }
    }

    private func mutate(_ bytes: inout [UInt8], using random: inout SeededGenerator) {
        guard !bytes.isEmpty else { return bytes = Self.interesting }
        let at = Int.random(in: 0..<bytes.count, using: &random)
        switch Int.random(in: 0..<6, using: &random) {
        case 0: bytes[at] = UInt8.random(in: 0...255, using: &random)
        case 1: bytes[at] = Self.interesting.randomElement(using: &random)!
        case 2: bytes.insert(Self.interesting.randomElement(using: &random)!, at: at)
        case 3: bytes.remove(at: at)
        case 4: bytes.removeSubrange(at...)
        default:
            let end = min(bytes.count, at + Int.random(in: 1...16, using: &random))
            bytes.insert(contentsOf: bytes[at..<end], at: at)
        }
    }

    private func check(_ bytes: [UInt8], using random: inout SeededGenerator) {
        let whole = ParseOutcome(bytes)
        if let error = whole.error {
            #expect(Self.statuses.contains(error.status), "\(error)")
            #expect(!error.message.isEmpty)
        }
        #expect(whole.events.count - 2 * whole.requests.count <= 1, "a request without its head")
        let split = Int.random(in: 0...bytes.count, using: &random)
        let halves = ParseOutcome(parts: [bytes[..<split], bytes[split...]])
        #expect(halves.events == whole.events && halves.error == whole.error, "split at \(split) of \(bytes)")
        let byteByByte = ParseOutcome(parts: bytes.map { [$0] })
        #expect(byteByByte.events == whole.events && byteByByte.error == whole.error, "\(bytes)")
    }
}
