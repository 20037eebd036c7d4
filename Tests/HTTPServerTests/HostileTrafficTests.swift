import Foundation
import Testing
@testable import HTTPServer

/// The bar: 10,000 malformed or truncated requests over real sockets
/// leave the server answering correctly, with no descriptor left open.
@Suite(.serialized) struct HostileTrafficTests {
    static let valid: [String] = [
        "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nTrailer: 1\r\n\r\n",
        "GET /items/9 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ]

    /// Seeded mutations of valid requests: flipped, inserted, deleted and
    /// duplicated bytes, and truncations.
    static func mutations(count: Int, seed: UInt64) -> [[UInt8]] {
        var state = seed
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let interesting: [UInt8] = [0, 9, 10, 13, 32, 58, 59, 0x7f, 0x80, 0xff, UInt8(ascii: "0"), UInt8(ascii: "f")]
        return (0..<count).map { _ in
            var bytes = Array(valid[next() % valid.count].utf8)
            for _ in 0..<(1 + next() % 3) {
                let at = next() % bytes.count
                switch next() % 5 {
                case 0: bytes[at] = interesting[next() % interesting.count]
                case 1: bytes.insert(interesting[next() % interesting.count], at: at)
                case 2: if bytes.count > 1 { bytes.remove(at: at) }
                case 3: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 1 + next() % 8)], at: at)
                default: bytes = Array(bytes[0..<max(1, at)])
                }
            }
            return bytes
        }
    }

    /// Status codes of every status line in an answer, in order.
    static func statuses(_ answer: String) -> [String] {
        answer.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(3)) }
    }

    @Test func everyCommittedHostileCaseGetsItsStatusOverASocket() throws {
        let server = try TestServer()
        for hostile in Fixtures.hostileRequests {
            let client = try LoopbackClient(port: server.port)
            client.send(hostile.bytes)
            client.closeWriting()
            let statuses = Self.statuses(String(decoding: client.readToEnd(), as: UTF8.self))
            if hostile.expected == "incomplete" {
                // Requests complete before the truncation are answered (no route: 404); nothing else.
                #expect(statuses.allSatisfy { $0 == "404" }, "\(hostile): \(statuses)")
            } else {
                #expect(statuses.last == hostile.expected, "\(hostile): \(statuses)")
            }
        }
        #expect(eventually { server.server.connectionCount == 0 && server.server.openDescriptorCount == 0 })
    }

    @Test func tenThousandHostileRequestsLeaveTheServerAnswering() throws {
        let server = try TestServer { $0.headerTimeout = 2; $0.bodyTimeout = 2 }
        var statuses: [String: Int] = [:]
        for bytes in Self.mutations(count: 10_000, seed: 42) {
            let client = try LoopbackClient(port: server.port, receiveTimeout: 5)
            client.send(bytes)
            client.closeWriting()  // truncated requests end here
            let answer = String(decoding: client.readToEnd(), as: UTF8.self)
            let status = answer.hasPrefix("HTTP/1.1 ") ? String(answer.dropFirst(9).prefix(3)) : "none"
            statuses[status, default: 0] += 1
        }
        // Every answer was a status line or a close; the server still answers.
        #expect(Set(statuses.keys).isSubset(of: ["200", "204", "400", "404", "405", "408", "413", "414", "417", "431", "501", "505", "none"]), "\(statuses)")
        #expect((statuses["400"] ?? 0) > 1000, "\(statuses)")
        do {
            let check = try LoopbackClient(port: server.port)
            check.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(String(decoding: check.readToEnd(), as: UTF8.self).hasSuffix("hello\n"))
        }
        #expect(eventually { server.server.connectionCount == 0 })
        #expect(eventually { server.server.openDescriptorCount == 0 })
    }
}
