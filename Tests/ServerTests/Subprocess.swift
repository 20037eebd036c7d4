import Foundation

/// Runs a program to its end, for tests that drive the server as its users
/// do (curl, python3, the kvserve executable).
enum Subprocess {
    /// Exit status and standard output (with standard error when
    /// `includeErrors`: a traceback or a refusal belongs in a failure message).
    static func run(_ executable: String, _ arguments: [String], includeErrors: Bool = false) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = includeErrors ? pipe : FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
