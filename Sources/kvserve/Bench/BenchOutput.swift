import Foundation

/// What every bench command prints: progress on stderr, results on stdout.
enum BenchOutput {
    static func progress(_ message: String) {
        FileHandle.standardError.write(Data("bench: \(message)\n".utf8))
    }

    static func printJSON<T: Encodable>(_ value: T) throws {
        print(String(decoding: try json(value), as: UTF8.self))
    }

    static func json<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(value)
    }
}

/// This process's memory as the kernel reports it.
enum ProcessMemory {
    /// Resident bytes now (`VmRSS`) and at the peak so far (`VmHWM`).
    static var residentBytes: Int { statusBytes("VmRSS:") }
    static var peakResidentBytes: Int { statusBytes("VmHWM:") }

    /// A "kB" line of /proc/self/status, in bytes; 0 where there is none.
    private static func statusBytes(_ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kib * 1024
    }
}
