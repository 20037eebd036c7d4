import Foundation
import Testing
@testable import Storage

/// The SQLite session store: what is saved comes back exactly, after the
/// store is closed and opened again; a damaged file is set aside, not trusted.
struct SQLiteStoreTests {
    func temporaryPath() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("kvserve.sqlite").path
    }

    @Test func recordsSurviveReopening() throws {
        let path = try temporaryPath()
        let session = SessionRecord(key: "tenant:s1", tokens: [1, -2, Int32.max, Int32.min], chainHashes: [0, 1, UInt64.max],
                                    turns: 3, lastUsed: 1_796_000_000.25)
        let response = ResponseRecord(key: "resp_1", tokens: [5, 6, 7], json: #"{"id":"resp_1","text":"é"}"#, lastUsed: 12.5)
        do {
            let store = try SQLiteStore(path: path)
            try store.saveSession(session)
            try store.saveSession(SessionRecord(key: "gone", tokens: [], chainHashes: [], turns: 1, lastUsed: 0))
            try store.deleteSession(key: "gone")
            try store.saveResponse(response)
        }
        let reopened = try SQLiteStore(path: path)
        #expect(try reopened.loadSessions() == [session])
        #expect(try reopened.loadResponses() == [response])
        #expect(reopened.warnings.isEmpty)
        // A later save of the same key replaces it.
        var next = session
        next.tokens += [9]
        next.turns = 4
        try reopened.saveSession(next)
        #expect(try reopened.loadSessions() == [next])
    }

    @Test func aFileThatIsNotADatabaseIsSetAside() throws {
        let path = try temporaryPath()
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: path))
        let store = try SQLiteStore(path: path)
        #expect(try store.loadSessions().isEmpty)
        #expect(store.warnings.count == 1 && store.warnings[0].contains(".corrupt-"))
        let directory = (path as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).contains { $0.hasPrefix("kvserve.sqlite.corrupt-") })
    }

    @Test func aTruncatedDatabaseIsSetAsideOrReadWhole() throws {
        let path = try temporaryPath()
        do {
            let store = try SQLiteStore(path: path)
            for i in 0..<200 {
                try store.saveSession(SessionRecord(key: "s\(i)", tokens: Array(repeating: Int32(i), count: 300), chainHashes: [UInt64(i)],
                                                    turns: 1, lastUsed: 0))
            }
        }
        // Checkpointed into the main file, then cut in half.
        _ = try SQLiteStore(path: path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: size / 2)
        try handle.close()
        try? FileManager.default.removeItem(atPath: path + "-wal")
        // Either the damage is found at opening, or whatever is read is whole: never a wrong record.
        if let store = try? SQLiteStore(path: path), let sessions = try? store.loadSessions() {
            for s in sessions { #expect(s.tokens == Array(repeating: Int32(s.key.dropFirst())!, count: 300)) }
        }
    }

    @Test func integersRoundTripLittleEndian() {
        #expect(Codec.encode([Int32(1), -1]) == [1, 0, 0, 0, 255, 255, 255, 255])
        #expect(Codec.decode([1, 0, 0, 0, 255, 255, 255, 255], as: Int32.self) == [1, -1])
        #expect(Codec.decode([1, 2, 3], as: Int32.self) == nil)
    }
}
