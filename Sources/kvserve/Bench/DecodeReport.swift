import BenchData
import Foundation

/// What `kvserve bench decode` measured, as JSON or as a Markdown table.
struct Report: Encodable {
    struct Decode: Encodable {
        let context: Int
        let firstPosition: Int
        let tokens: Int
        let tokensPerSecond: Double
        let uncachedTokensPerSecond: Double?
    }

    struct Latency: Encodable {
        let position: Int
        let milliseconds: Double
    }

    struct Prefill: Encodable {
        let tokens: Int
        let tokensPerSecond: Double
        let standardDeviation: Double
    }

    struct Peer: Encodable {
        let prefillTokensPerSecond: [Double]
        let prefillStandardDeviation: [Double]
        let decodeTokensPerSecond: [Double]
        let decodeStandardDeviation: [Double]
    }

    let model: String
    let threads: Int
    let prefill: [Prefill]
    let decode: [Decode]
    let latencyMilliseconds: [Latency]
    let readBandwidthGBps: Double
    let weightBytesPerToken: Int
    let bandwidthBoundTokensPerSecond: Double
    /// `vpmaddubsw` on registers, all threads (MultiplyAccumulatePeak).
    let multiplyAccumulatePeakGMACs: Double
    /// Of the layers' matrices, per prompt token (prefill needs the output
    /// projection for the last token only).
    let multiplyAccumulatesPerToken: Int
    let llamaCpp: Peer?
    /// What kvserve-plot draws.
    let latencyCurves: DecodeLatencyCurves
    /// The file this report was written to as JSON.
    let dataFile: String

    /// One decimal, or enough for two significant digits below 1.
    static func number(_ value: Double, _ digits: Int = 1) -> String {
        let places = value > 0 && value < 1 ? max(digits, Int((-log10(value)).rounded(.down)) + 2) : digits
        return String(format: "%.\(places)f", value)
    }

    var table: String {
        var rows: [String] = []
        rows.append("| measure | kvserve | llama.cpp | kvserve / llama.cpp |")
        rows.append("|---|---|---|---|")
        func row(_ name: String, _ ours: Double, _ oursSD: Double?, _ theirs: Double?, _ theirsSD: Double?) {
            let a = Self.number(ours) + (oursSD.map { " ± " + Self.number($0) } ?? "")
            let b = theirs.map { Self.number($0) + (theirsSD.map { " ± " + Self.number($0) } ?? "") } ?? "–"
            let r = theirs.map { Self.number(ours / $0, 2) + "x" } ?? "–"
            rows.append("| \(name) | \(a) | \(b) | \(r) |")
        }
        for (k, p) in prefill.enumerated() {
            row("prefill \(p.tokens) tokens (pp\(p.tokens)), tokens/s", p.tokensPerSecond, p.standardDeviation,
                llamaCpp?.prefillTokensPerSecond[k], llamaCpp?.prefillStandardDeviation[k])
        }
        for (k, d) in decode.enumerated() {
            let name = k == 0
                ? "decode positions 0..<\(d.context) (tg\(d.context)), tokens/s"
                : "decode \(d.tokens) tokens after \(d.context) of context (tg\(d.tokens) at depth \(d.context)), tokens/s"
            row(name, d.tokensPerSecond, nil, llamaCpp?.decodeTokensPerSecond[k], llamaCpp?.decodeStandardDeviation[k])
        }
        for d in decode {
            if let u = d.uncachedTokensPerSecond {
                row("decode without cache at context \(d.context) (recompute \(d.context + 1) tokens), tokens/s", u, nil, nil, nil)
            }
        }
        var lines = [rows.joined(separator: "\n"), ""]
        let latencies = latencyMilliseconds.map { "\(Self.number($0.milliseconds, 2)) ms at position \($0.position)" }
        lines.append("Per-token latency with the cache (median of the 32 positions around): " + latencies.joined(separator: ", ") + ".")
        if let first = latencyMilliseconds.first, let last = latencyMilliseconds.last, latencyMilliseconds.count > 1 {
            lines.append("Latency at position \(last.position) / at position \(first.position): \(Self.number(last.milliseconds / first.milliseconds, 2))x.")
        }
        if let peer = llamaCpp, decode.count > 1, peer.decodeTokensPerSecond.count > 1 {
            let theirs = peer.decodeTokensPerSecond[0] / peer.decodeTokensPerSecond[decode.count - 1]
            lines.append("llama.cpp's tokens/s at tg\(decode[0].context) / at depth \(decode[decode.count - 1].context): \(Self.number(theirs, 2))x.")
        }
        let boundShare = decode.first.map { " kvserve's tg\($0.context) is \(Self.number(100 * $0.tokensPerSecond / bandwidthBoundTokensPerSecond, 0))% of it." } ?? ""
        lines.append("Bandwidth bound: \(Self.number(Double(weightBytesPerToken) / 1e6)) MB of weights per token over a measured read bandwidth of \(Self.number(readBandwidthGBps)) GB/s (\(threads) threads) = \(Self.number(bandwidthBoundTokensPerSecond)) tokens/s." + boundShare)
        let macs = Double(multiplyAccumulatesPerToken)
        let shares = prefill.map { p in
            "pp\(p.tokens) \(Self.number(p.tokensPerSecond * macs / 1e9)) GMAC/s = \(Self.number(100 * p.tokensPerSecond * macs / 1e9 / multiplyAccumulatePeakGMACs, 0))%"
        }
        lines.append("8-bit multiply-accumulate peak: \(Self.number(multiplyAccumulatePeakGMACs)) GMAC/s (vpmaddubsw on registers, \(threads) threads); the layers' matrices take \(Self.number(macs / 1e6)) M per token: " + shares.joined(separator: ", ") + " of the peak.")
        lines.append("Model \(model), \(threads) threads. JSON: \(dataFile) (`kvserve-plot \(dataFile)` draws the latency plots).")
        return lines.joined(separator: "\n")
    }
}
