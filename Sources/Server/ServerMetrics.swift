import Engine
import Foundation
import HTTPServer
import JSONTree
import KVCache
import KVDisk
import Prometheus

/// The server's metrics, exported by swift-prometheus as Prometheus text at
/// `GET /metrics`, each with its `# HELP` line. Each server has its own
/// registry. Request metrics are recorded as requests end; engine and KV
/// figures are read from the engine at scrape time.
public final class ServerMetrics: @unchecked Sendable {
    let registry = PrometheusCollectorRegistry()
    let timeToFirstToken: DurationHistogram
    let interTokenLatency: DurationHistogram
    let generatedTokens: Counter
    let prefillTokens: Counter
    let cachedTokens: Counter
    let draftTokens: Counter
    let acceptedTokens: Counter
    let durableWriteFailures: Counter
    /// Time to first token by stage (`RequestStages`).
    private let stageHistograms: [RequestStages.Stage: DurationHistogram]
    private let gauges: [String: Gauge]
    private let totals: [String: Counter]
    /// What the engine's cumulative counts were at the last scrape (under `lock`).
    private var lastTotals: [String: Int] = [:]
    private let lock = NSLock()

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "kvserve", metricName: metric, unitName: unit, helpText: help)
    }

    /// Buckets from milliseconds to ten minutes: a long prompt's prefill on
    /// a CPU takes minutes, and a histogram that stops at seconds hides it.
    static let longLatencyBuckets: [Duration] = [5, 10, 25, 50, 100, 250, 500].map { .milliseconds($0) }
        + [1, 2, 5, 10, 30, 60, 120, 300, 600].map { .seconds($0) }
    /// From a tenth of a millisecond: most stages take about that long.
    static let stageBuckets: [Duration] = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 5000].map { .nanoseconds(Int64($0 * 1e6)) }
    static let tokenLatencyBuckets: [Duration] = [2, 5, 10, 20, 50, 100, 200, 500].map { .milliseconds($0) }
        + [1, 2, 5].map { .seconds($0) }

    public init() {
        timeToFirstToken = registry.makeDurationHistogram(
            descriptor: Self.name("time_to_first_token", "seconds", "From a generation request's arrival to its first token."),
            labels: [], buckets: Self.longLatencyBuckets)
        interTokenLatency = registry.makeDurationHistogram(
            descriptor: Self.name("inter_token_latency", "seconds", "Between consecutive tokens of one reply."),
            labels: [], buckets: Self.tokenLatencyBuckets)
        generatedTokens = registry.makeCounter(descriptor: Self.name("generated_tokens", "total", "Tokens generated."))
        prefillTokens = registry.makeCounter(descriptor: Self.name("prefill_tokens", "total",
                                                                   "Input tokens computed (not found in the cache)."))
        cachedTokens = registry.makeCounter(descriptor: Self.name("cached_tokens", "total",
                                                                  "Input tokens whose keys and values were found in the cache."))
        draftTokens = registry.makeCounter(descriptor: Self.name("spec_draft_tokens", "total",
                                                                 "Tokens speculation drafted (prompt lookup) and checked."))
        acceptedTokens = registry.makeCounter(descriptor: Self.name("spec_accepted_tokens", "total",
                                                                    "Drafted tokens that were the model's own greedy choice."))
        let registry = registry
        stageHistograms = Dictionary(uniqueKeysWithValues: RequestStages.Stage.allCases.map { stage in
            (stage, registry.makeDurationHistogram(
                descriptor: Self.name("ttft_stage", "seconds",
                                      "A request's time to first token by stage: parse, store_read, template, tokenize, queue_wait, prefill, first_write."),
                labels: [("stage", stage.rawValue)], buckets: Self.stageBuckets))
        })
        durableWriteFailures = registry.makeCounter(descriptor: Self.name("durable_write_failures", "total",
                                                                          "Writes to the session store that failed (turns not made durable)."))
        var gauges: [String: Gauge] = [:]
        for (metric, unit, help) in [("kv_usage", "ratio", "Fraction of KV blocks held by running sequences."),
                                     ("prefix_hit", "ratio", "Fraction of looked-up input tokens found cached."),
                                     ("running", "sequences", "Sequences in the running batch."),
                                     ("waiting", "sequences", "Requests waiting to be admitted."),
                                     ("resident", "sessions", "Sessions the server holds."),
                                     ("kv_disk", "blocks", "KV blocks stored in the disk tier."),
                                     ("kv_disk", "bytes", "Bytes of the disk tier's file that hold blocks.")] {
            gauges["kvserve_\(metric)_\(unit)"] = registry.makeGauge(descriptor: Self.name(metric, unit, help))
        }
        for state in ["total", "used", "cached", "free"] {
            gauges["blocks_\(state)"] = registry.makeGauge(
                descriptor: Self.name("kv", "blocks", "KV blocks by state: total, used (by running sequences), cached (idle, evictable), free."),
                labels: [("state", state)])
        }
        self.gauges = gauges
        totals = ["evictions": registry.makeCounter(descriptor: Self.name("kv_evictions", "total", "Cached KV blocks evicted for reuse.")),
                  "preemptions": registry.makeCounter(descriptor: Self.name("preemptions", "total",
                                                                           "Running sequences preempted for lack of blocks.")),
                  "disk_hits": registry.makeCounter(descriptor: Self.name("kv_disk_hit_tokens", "total",
                                                                         "Input tokens whose keys and values were read back from the disk tier.")),
                  "disk_written": registry.makeCounter(descriptor: Self.name("kv_disk_written_bytes", "total", "Bytes written to the disk tier.")),
                  "disk_read": registry.makeCounter(descriptor: Self.name("kv_disk_read_bytes", "total", "Bytes read back from the disk tier.")),
                  "disk_write_failures": registry.makeCounter(descriptor: Self.name("kv_disk_write_failures", "total",
                                                                                   "Block writes to the disk tier that failed (disk error or full).")),
                  "disk_read_failures": registry.makeCounter(descriptor: Self.name("kv_disk_read_failures", "total",
                                                                                  "Blocks read back from the disk tier that failed (checksum, truncated file, disk error) and were recomputed.")),
                  "disk_writes_skipped": registry.makeCounter(descriptor: Self.name("kv_disk_writes_skipped", "total",
                                                                                   "Blocks not written to the disk tier because too many writes were in flight.")),
                  "json_parsed": registry.makeCounter(descriptor: Self.name("json_documents_parsed", "total",
                                                                           "JSON documents parsed by the process: one per request body, plus tool-call arguments a client echoes and the configuration file."))]
    }

    /// One request's time to first token, stage by stage.
    func record(_ stages: RequestStages) {
        for (stage, seconds) in stages.seconds { stageHistograms[stage]?.recordNanoseconds(Int64(seconds * 1e9)) }
    }

    /// Counts one answered request by route and status and times it end to end.
    func record(_ exchange: ExchangeRecord) {
        registry.makeCounter(descriptor: Self.name("requests", "total", "Requests answered, by route pattern and status."),
                             labels: [("route", exchange.route), ("status", String(exchange.status))]).increment()
        registry.makeDurationHistogram(
            descriptor: Self.name("request_duration", "seconds", "From a request's dispatch to the end of its answer, by route."),
            labels: [("route", exchange.route)], buckets: Self.longLatencyBuckets)
            .record(.nanoseconds(Int64(exchange.seconds * 1e9)))
    }

    /// The Prometheus text, with the engine's figures as of `snapshot`.
    func exposition(_ snapshot: EngineStatus) -> String {
        let u = snapshot.usage
        gauges["kvserve_kv_usage_ratio"]!.set(u.usageRatio)
        gauges["kvserve_prefix_hit_ratio"]!.set(u.prefixHitRatio)
        gauges["kvserve_running_sequences"]!.set(Double(snapshot.running))
        gauges["kvserve_waiting_sequences"]!.set(Double(snapshot.waiting))
        gauges["kvserve_resident_sessions"]!.set(Double(snapshot.sessions))
        gauges["blocks_total"]!.set(Double(u.total))
        gauges["blocks_used"]!.set(Double(u.used))
        gauges["blocks_cached"]!.set(Double(u.cached))
        gauges["blocks_free"]!.set(Double(u.free))
        let disk = snapshot.disk
        gauges["kvserve_kv_disk_blocks"]!.set(Double(disk?.storedBlocks ?? 0))
        gauges["kvserve_kv_disk_bytes"]!.set(Double(disk?.storedBytes ?? 0))
        let d = disk?.counters ?? DiskTier.Counters()
        // The engine's counts only grow; the counters take the difference.
        lock.withLock {
            for (name, now) in [("evictions", u.evictions), ("preemptions", u.counters.preemptions), ("disk_hits", d.hitTokens),
                                ("disk_written", d.bytesWritten), ("disk_read", d.bytesRead), ("disk_write_failures", d.writeFailures),
                                ("disk_read_failures", d.readFailures), ("disk_writes_skipped", d.writesSkipped),
                                ("json_parsed", JSON.documentsParsed)] {
                let delta = now - (lastTotals[name] ?? 0)
                if delta > 0 { totals[name]!.increment(by: Int64(delta)) }
                lastTotals[name] = now
            }
        }
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
