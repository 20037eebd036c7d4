import Foundation

/// Runs a program to its end, for tests that check kvserve against other
/// programs (python3 and its libraries, curl, the kvserve executable).
public enum Subprocess {
    /// Exit status, standard output and standard error; `input` is written
    /// to its standard input. Both outputs are read while it runs, so
    /// neither pipe fills and blocks it.
    public static func run(_ executable: String, _ arguments: [String], input: Data? = nil) throws
        -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe(), error = Pipe(), stdin = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try? stdin.fileHandleForWriting.close()
        nonisolated(unsafe) var errorData = Data()
        let reader = Thread { errorData = error.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while reader.isExecuting || !reader.isFinished { usleep(1000) }
        return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
    }

    /// The same, standard error after the output when `includeErrors`: a
    /// traceback or a refusal belongs in a failure message.
    public static func run(_ executable: String, _ arguments: [String], includeErrors: Bool, input: Data? = nil) throws
        -> (status: Int32, output: String) {
        let result = try run(executable, arguments, input: input)
        return (result.status, includeErrors ? result.output + result.error : result.output)
    }
}
