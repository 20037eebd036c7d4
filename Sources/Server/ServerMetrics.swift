import CoreMetrics
import Engine
import Foundation
import KVCache
import Prometheus

/// The server's metrics (swift-metrics, exported by swift-prometheus as
/// Prometheus text at `GET /metrics`). Each server has its own registry.
/// Request metrics are recorded as requests end; engine and KV figures are
/// read from the engine at scrape time.
public final class ServerMetrics: @unchecked Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    let timeToFirstToken: CoreMetrics.Timer
    let interTokenLatency: CoreMetrics.Timer
    let generatedTokens: CoreMetrics.Counter
    let prefillTokens: CoreMetrics.Counter
    let cachedTokens: CoreMetrics.Counter
    private let gauges: [String: CoreMetrics.Gauge]
    private let totals: [String: CoreMetrics.Counter]
    /// What the engine's cumulative counts were at the last scrape (under `lock`).
    private var lastTotals: [String: Int] = [:]
    private let lock = NSLock()

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        let latency: [Duration] = [.milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(50),
                                   .milliseconds(100), .milliseconds(200), .milliseconds(500), .seconds(1), .seconds(2),
                                   .seconds(5), .seconds(10), .seconds(30)]
        factory.defaultDurationHistogramBuckets = latency
        self.factory = factory
        timeToFirstToken = CoreMetrics.Timer(label: "kvserve_time_to_first_token_seconds", factory: factory)
        interTokenLatency = CoreMetrics.Timer(label: "kvserve_inter_token_latency_seconds", factory: factory)
        generatedTokens = CoreMetrics.Counter(label: "kvserve_generated_tokens_total", factory: factory)
        prefillTokens = CoreMetrics.Counter(label: "kvserve_prefill_tokens_total", factory: factory)
        cachedTokens = CoreMetrics.Counter(label: "kvserve_cached_tokens_total", factory: factory)
        var gauges: [String: CoreMetrics.Gauge] = [:]
        for name in ["kvserve_kv_usage_ratio", "kvserve_prefix_hit_ratio", "kvserve_running_sequences",
                     "kvserve_waiting_sequences", "kvserve_resident_sessions"] {
            gauges[name] = CoreMetrics.Gauge(label: name, factory: factory)
        }
        for state in ["total", "used", "cached", "free"] {
            gauges["blocks_\(state)"] = CoreMetrics.Gauge(label: "kvserve_kv_blocks", dimensions: [("state", state)], factory: factory)
        }
        self.gauges = gauges
        totals = ["evictions": CoreMetrics.Counter(label: "kvserve_kv_evictions_total", factory: factory),
                  "preemptions": CoreMetrics.Counter(label: "kvserve_preemptions_total", factory: factory)]
    }

    /// Counts an answer to `POST /v1/generate` by its status.
    func countRequest(status: Int) {
        CoreMetrics.Counter(label: "kvserve_requests_total", dimensions: [("status", String(status))], factory: factory).increment()
    }

    /// What the engine holds right now, read on its thread.
    struct EngineSnapshot: Sendable {
        let usage: CacheUsage
        let running: Int, waiting: Int, sessions: Int
    }

    static func snapshot(_ engine: DecodeEngine) -> EngineSnapshot {
        EngineSnapshot(usage: engine.cache.usage, running: engine.runningCount, waiting: engine.waitingCount,
                       sessions: engine.sessions.count)
    }

    /// The Prometheus text, with the engine's figures as of `snapshot`.
    func exposition(_ snapshot: EngineSnapshot) -> String {
        let u = snapshot.usage
        gauges["kvserve_kv_usage_ratio"]!.record(u.usageRatio)
        gauges["kvserve_prefix_hit_ratio"]!.record(u.prefixHitRatio)
        gauges["kvserve_running_sequences"]!.record(snapshot.running)
        gauges["kvserve_waiting_sequences"]!.record(snapshot.waiting)
        gauges["kvserve_resident_sessions"]!.record(snapshot.sessions)
        gauges["blocks_total"]!.record(u.total)
        gauges["blocks_used"]!.record(u.used)
        gauges["blocks_cached"]!.record(u.cached)
        gauges["blocks_free"]!.record(u.free)
        // The engine's counts only grow; the counters take the difference.
        lock.withLock {
            for (name, now) in [("evictions", u.evictions), ("preemptions", u.counters.preemptions)] {
                let delta = now - (lastTotals[name] ?? 0)
                if delta > 0 { totals[name]!.increment(by: delta) }
                lastTotals[name] = now
            }
        }
        return registry.emitToString()
    }
}
