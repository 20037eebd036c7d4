import Foundation

/// How many CPUs this process may actually use: the CPUs its affinity mask
/// allows, capped by its cgroup's CPU quota (a container's `--cpus`).
/// Spinning workers beyond a quota are throttled in the middle of a step, so
/// the default pool follows this, not the machine's core count.
public struct UsableCPUs: Sendable, Equatable, CustomStringConvertible {
    /// CPUs in the affinity mask (`Cpus_allowed_list`), or the machine's count.
    public let allowed: Int
    /// The cgroup quota in CPUs (quota / period), if one is set.
    public let quota: Double?

    /// Threads worth running: the allowed CPUs, at most the quota rounded up.
    public var count: Int { max(1, min(allowed, quota.map { Int($0.rounded(.up)) } ?? allowed)) }

    public var description: String {
        "\(count) (\(allowed) CPUs allowed" + (quota.map { ", cgroup quota \(String(format: "%.2f", $0)) CPUs" } ?? ", no cgroup quota") + ")"
    }

    /// This process's, read from /proc and /sys/fs/cgroup.
    public static func detect() -> UsableCPUs {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let listed = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
            .flatMap { cpuCount(list: String($0.dropFirst("Cpus_allowed_list:".count))) }
        let cgroups = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
        return UsableCPUs(allowed: listed ?? ProcessInfo.processInfo.activeProcessorCount,
                          quota: quota(cgroups: cgroups, read: { try? String(contentsOfFile: $0, encoding: .utf8) }))
    }

    public init(allowed: Int, quota: Double?) {
        self.allowed = allowed
        self.quota = quota
    }

    /// The number of CPUs in a list such as "0-3,8,10-11"; nil if malformed.
    static func cpuCount(list: String) -> Int? {
        var count = 0
        for part in list.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let bounds = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch bounds.count {
            case 1: guard bounds[0] != nil else { return nil }; count += 1
            case 2: guard let a = bounds[0], let b = bounds[1], b >= a else { return nil }; count += b - a + 1
            default: return nil
            }
        }
        return count > 0 ? count : nil
    }

    /// The tightest CPU quota of the process's cgroup and its ancestors, in
    /// CPUs: cgroup v2's `cpu.max` ("max 100000" or "150000 100000") or v1's
    /// `cpu.cfs_quota_us` over `cpu.cfs_period_us` (-1: none).
    static func quota(cgroups: String, read: (String) -> String?) -> Double? {
        var candidates: [(directory: String, v2: Bool)] = []
        for line in cgroups.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let path = String(fields[2])
            if fields[0] == "0" && fields[1].isEmpty {
                candidates += ancestors(path).flatMap { [("/sys/fs/cgroup" + $0, true), ("/sys/fs/cgroup/unified" + $0, true)] }
            } else if fields[1].split(separator: ",").contains("cpu") {
                let mount = "/sys/fs/cgroup/" + fields[1]
                candidates += ancestors(path).flatMap { [(mount + $0, false), ("/sys/fs/cgroup/cpu" + $0, false)] }
            }
        }
        var tightest: Double?
        for (directory, v2) in candidates {
            let cpus: Double?
            if v2 {
                cpus = read(directory + "/cpu.max").flatMap { text in
                    let parts = text.split(whereSeparator: \.isWhitespace)
                    guard parts.count == 2, let quota = Double(parts[0]), let period = Double(parts[1]), period > 0 else { return nil }
                    return quota / period
                }
            } else {
                let quota = read(directory + "/cpu.cfs_quota_us").flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                let period = read(directory + "/cpu.cfs_period_us").flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                if let quota, let period, quota > 0, period > 0 { cpus = quota / period } else { cpus = nil }
            }
            if let cpus, cpus > 0 { tightest = min(tightest ?? cpus, cpus) }
        }
        return tightest
    }

    /// "/a/b" -> ["/a/b", "/a", ""]: the cgroup and the ones above it.
    private static func ancestors(_ path: String) -> [String] {
        var parts = path.split(separator: "/").map(String.init)
        var result: [String] = []
        while true {
            result.append(parts.isEmpty ? "" : "/" + parts.joined(separator: "/"))
            if parts.isEmpty { return result }
            parts.removeLast()
        }
    }
}
