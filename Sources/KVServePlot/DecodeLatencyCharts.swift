import BenchData
import Plotting

/// The part of `kvserve bench decode`'s JSON that the plots need.
struct DecodeBenchMeasurements: Decodable {
    let model: String
    let latencyCurves: DecodeLatencyCurves
}

/// The two charts of per-token decode latency against position.
enum DecodeLatencyCharts {
    /// With the cache, without it and llama.cpp's averages, on a logarithmic
    /// axis: recomputation costs seconds where a cached step costs
    /// milliseconds, and there both curves show their shape.
    static func withAndWithoutCache(_ measurements: DecodeBenchMeasurements) -> LinePlot {
        LinePlot(title: "Per-token decode latency, \(measurements.model)",
                 xLabel: "position", yLabel: "milliseconds per token (log scale)",
                 series: series(measurements.latencyCurves, includingUncached: true),
                 yScale: .logarithmic)
    }

    /// The cached curve (and llama.cpp's averages) alone, on a linear axis,
    /// shows how it grows.
    static func cachedOnly(_ measurements: DecodeBenchMeasurements) -> LinePlot {
        LinePlot(title: "Per-token decode latency with the KV cache",
                 xLabel: "position", yLabel: "milliseconds per token",
                 series: series(measurements.latencyCurves, includingUncached: false))
    }

    private static func series(_ curves: DecodeLatencyCurves, includingUncached: Bool) -> [LinePlot.Series] {
        func points(_ curve: [DecodeLatencyCurves.Point]) -> [(x: Double, y: Double)] {
            curve.map { (x: $0.position, y: $0.milliseconds) }
        }
        var series = [LinePlot.Series(name: "kvserve, KV cache", points: points(curves.cached), color: .blue)]
        if includingUncached {
            series.append(LinePlot.Series(name: "kvserve, no cache (recompute)", points: points(curves.uncached), color: .red))
        }
        if let peer = curves.llamaCpp {
            series.append(LinePlot.Series(name: "llama.cpp (llama-bench averages)", points: points(peer), color: .green))
        }
        return series
    }
}
