import Dispatch
import Engine

/// A finished turn's timings, for its answer and its log line.
struct Timings {
    let ttftMilliseconds: Double
    let prefillTokensPerSecond: Double
    let decodeTokensPerSecond: Double
    let totalMilliseconds: Double

    /// `started` and `firstToken` in uptime nanoseconds; now is the end.
    init(_ completion: Completion, started: UInt64, firstToken: UInt64?) {
        let end = DispatchTime.now().uptimeNanoseconds
        ttftMilliseconds = Double((firstToken ?? end) - started) / 1e6
        let decodeSeconds = Double(end - (firstToken ?? end)) / 1e9
        prefillTokensPerSecond = ttftMilliseconds > 0 ? Double(completion.promptTokens) / (ttftMilliseconds / 1000) : 0
        decodeTokensPerSecond = decodeSeconds > 0 ? Double(max(0, completion.tokens.count - 1)) / decodeSeconds : 0
        totalMilliseconds = Double(end - started) / 1e6
    }
}
