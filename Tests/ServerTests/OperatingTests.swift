import Foundation
import Testing
@testable import Engine
@testable import HTTPServer
@testable import Server
import TestSupport

/// Running kvserve as an operator does: stopping it under load, and
/// starting it wrong.
@Suite(.serialized, .enabled(if: DefaultModel.testsEnabled, Comment(rawValue: DefaultModel.missingNote)))
struct OperatingTests {
    /// A stream still running when the grace period ends is told why it
    /// ends (`event: error`, `shutting_down`) and its turn rolls back; a
    /// short one started beside it finishes normally.
    @Test func aStreamCutByShutdownIsToldSoAndRolledBack() throws {
        var c = Configuration.forTests(kvCacheBytes: 64 << 20)
        c.shutdownGraceSeconds = 4
        let server = try APIServer(configuration: c)
        let url = "http://127.0.0.1:\(server.http.port)/v1/generate"
        /// Runs curl on a thread of its own (the shared pools may be busy with
        /// other suites); the output lands in the result once curl exits.
        func stream(_ body: String) -> (Mutex<String?>, Thread) {
            let result = Mutex<String?>(nil)
            let thread = Thread { result.withLock { $0 = (try? Subprocess.run("/usr/bin/curl", ["-sS", "-N", url, "-d", body]).output) ?? "" } }
            thread.start()
            return (result, thread)
        }
        func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while !condition() && Date() < deadline { usleep(10_000) }
            return condition()
        }
        let (long, _) = stream(#"{"prompt":"Far away","session_id":"cut","max_tokens":2000,"temperature":0,"ignore_eos":true}"#)
        try #require(waitFor(60) { server.service.perform { $0.runningCount } == 1 })
        // A short stream beside it, which the grace period lets finish.
        let (short, _) = stream(#"{"prompt":"Near","max_tokens":16,"temperature":0,"ignore_eos":true}"#)
        try #require(waitFor(60) { server.service.perform { $0.runningCount } == 2 || short.withLock { $0 } != nil })
        let stopped = DispatchSemaphore(value: 0)
        server.shutdown { stopped.signal() }
        #expect(stopped.wait(timeout: .now() + 30) == .success)
        #expect(waitFor(10) { long.withLock { $0 } != nil && short.withLock { $0 } != nil })

        let cut = long.withLock { $0 } ?? ""
        #expect(cut.contains("event: token") && !cut.contains("event: done"), "\(cut.suffix(300))")
        #expect(cut.hasSuffix("\n\n") && cut.contains("event: error\ndata: {\"error\":{\"message\":\"the server is shutting down"), "\(cut.suffix(300))")
        #expect(cut.contains(#""type":"shutting_down""#))
        #expect((short.withLock { $0 } ?? "").contains("event: done"))
        // The cut turn was the session's first: rolled back, there is no session.
        #expect(server.service.perform { $0.sessions["cut"] } == nil)
        #expect(server.service.perform { $0.runningCount + $0.waitingCount } == 0)
    }

    static let executable = GenerateOverHTTPTests.kvserveExecutable

    @Test func startingWrongSaysWhatIsWrong() throws {
        let missingModel = try Subprocess.run(Self.executable, ["serve", "--model", "/nonexistent/model.gguf", "--port", "0"],
                                              includeErrors: true)
        #expect(missingModel.status != 0 && missingModel.output.contains("scripts/fetch-model"), "\(missingModel.output)")
        let missingConfig = try Subprocess.run(Self.executable, ["serve", "--config", "/nonexistent/kvserve.json"], includeErrors: true)
        #expect(missingConfig.status != 0 && missingConfig.output.contains("/nonexistent/kvserve.json"), "\(missingConfig.output)")
    }
}
