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
        c.shutdownGraceSeconds = 2
        let server = try APIServer(configuration: c)
        let url = "http://127.0.0.1:\(server.http.port)/v1/generate"
        let long = Mutex(""), short = Mutex("")
        let group = DispatchGroup()
        for (body, out) in [(#"{"prompt":"Far away","session_id":"cut","max_tokens":2000,"temperature":0,"ignore_eos":true}"#, long),
                            (#"{"prompt":"Near","max_tokens":8,"temperature":0,"ignore_eos":true}"#, short)] {
            DispatchQueue.global().async(group: group) {
                let output = (try? Subprocess.run("/usr/bin/curl", ["-sS", "-N", url, "-d", body]).output) ?? ""
                out.withLock { $0 = output }
            }
        }
        // Both streams are running when the stop begins.
        let deadline = Date().addingTimeInterval(10)
        while server.service.perform({ $0.runningCount }) < 2 && Date() < deadline { usleep(10_000) }
        let stopped = DispatchSemaphore(value: 0)
        server.shutdown { stopped.signal() }
        #expect(group.wait(timeout: .now() + 10) == .success)
        #expect(stopped.wait(timeout: .now() + 5) == .success)

        let cut = long.withLock { $0 }
        #expect(cut.contains("event: token") && !cut.contains("event: done"), "\(cut.suffix(300))")
        #expect(cut.hasSuffix("\n\n") && cut.contains("event: error\ndata: {\"error\":{\"message\":\"the server is shutting down"), "\(cut.suffix(300))")
        #expect(cut.contains(#""type":"shutting_down""#))
        #expect(short.withLock { $0 }.contains("event: done"))
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
