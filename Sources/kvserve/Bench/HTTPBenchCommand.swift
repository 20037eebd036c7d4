import ArgumentParser
import Foundation
import HTTPServer

/// wrk against kvserve's HTTP server and against nginx, same route, same run.
struct HTTPBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http",
        abstract: "Load test of a trivial route with wrk: kvserve's HTTP server beside nginx in the same run, and the server's descriptors and memory after 100,000+ keep-alive requests."
    )

    @Option(help: "Concurrent connections.")
    var connections = 64

    @Option(help: "Seconds per measurement.")
    var seconds = 10

    @Option(help: "wrk threads.")
    var wrkThreads = 2

    @Option(help: "The wrk executable.")
    var wrk = "/usr/bin/wrk"

    @Option(help: "The nginx executable (the peer); empty to skip it.")
    var nginx = "/usr/sbin/nginx"

    @Flag(help: "Print the results as one JSON object instead of a table.")
    var json = false

    func progress(_ message: String) { BenchOutput.progress(message) }

    struct Load: Encodable {
        let requestsPerSecond: Double
        let requests: Int
        let latencyAverage: String
        let latencyP99: String
        let socketErrors: String?
        let non2xx: Int
    }

    struct Report: Encodable {
        let connections: Int, seconds: Int, wrkThreads: Int
        let kvserve: Load
        let nginx: [String: Load]
        let descriptorsBefore: Int, descriptorsAfter: Int
        let residentBytesBefore: Int, residentBytesAfter: Int
    }

    func run() throws {
        var router = Router()
        router.add("GET", "/health") { _, responder in responder.send(.text("ok\n")) }
        var configuration = HTTPServerConfiguration()
        configuration.port = 0
        configuration.maxConnections = max(256, connections * 2)
        let server = HTTPServer(configuration: configuration, router: router)
        try server.start()
        let url = "http://127.0.0.1:\(server.port)/health"

        progress("warming up kvserve (2 s)")
        _ = try runWrk(url, seconds: 2)
        _ = eventually { server.connectionCount == 0 && server.openDescriptorCount == 0 }
        let descriptorsBefore = Self.openDescriptors(), residentBefore = ProcessMemory.residentBytes
        let targetsBefore = Self.descriptorTargets()
        progress("kvserve: wrk -t\(wrkThreads) -c\(connections) -d\(seconds)s \(url)")
        let ours = try runWrk(url, seconds: seconds)
        _ = eventually { server.connectionCount == 0 && server.openDescriptorCount == 0 }
        let descriptorsAfter = Self.openDescriptors(), residentAfter = ProcessMemory.residentBytes
        let newTargets = Self.descriptorTargets().filter { !targetsBefore.contains($0) }
        if !newTargets.isEmpty { progress("descriptors opened during the run and still open: \(newTargets)") }

        var peers: [String: Load] = [:]
        if !nginx.isEmpty {
            for workers in ["1", "auto"] {
                progress("nginx (worker_processes \(workers)): wrk -t\(wrkThreads) -c\(connections) -d\(seconds)s")
                peers["worker_processes \(workers)"] = try withNginx(workers: workers) { try runWrk($0, seconds: seconds) }
            }
        }
        let report = Report(connections: connections, seconds: seconds, wrkThreads: wrkThreads, kvserve: ours, nginx: peers,
                            descriptorsBefore: descriptorsBefore, descriptorsAfter: descriptorsAfter,
                            residentBytesBefore: residentBefore, residentBytesAfter: residentAfter)
        if json {
            try BenchOutput.printJSON(report)
        } else {
            print(table(report))
        }
    }

    func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<500 where !condition() { usleep(10_000) }
        return condition()
    }

    func runWrk(_ url: String, seconds: Int) throws -> Load {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: wrk)
        process.arguments = ["-t\(wrkThreads)", "-c\(connections)", "-d\(seconds)s", "--latency", url]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let rate = Self.field(text, after: "Requests/sec:").flatMap(Double.init),
              let requests = text.split(separator: "\n").first(where: { $0.contains("requests in") })?
                .split(separator: " ").first.flatMap({ Int($0) }) else {
            throw ValidationError("wrk failed or printed something unexpected:\n\(text)")
        }
        let latency = text.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("Latency ") }?
            .split(separator: " ", omittingEmptySubsequences: true)
        let p99 = text.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("99%") }?
            .split(separator: " ", omittingEmptySubsequences: true).last
        let non2xx = Self.field(text, after: "Non-2xx or 3xx responses:").flatMap(Int.init) ?? 0
        let errors = text.split(separator: "\n").first { $0.contains("Socket errors") }.map { $0.trimmingCharacters(in: .whitespaces) }
        return Load(requestsPerSecond: rate, requests: requests, latencyAverage: latency.map { String($0[1]) } ?? "?",
                    latencyP99: p99.map(String.init) ?? "?", socketErrors: errors, non2xx: non2xx)
    }

    static func field(_ text: String, after label: String) -> String? {
        guard let range = text.range(of: label) else { return nil }
        return text[range.upperBound...].split(whereSeparator: { $0 == " " || $0 == "\n" }).first.map(String.init)
    }

    /// Runs nginx in the foreground on a free port, serving the same route.
    func withNginx<R>(workers: String, _ body: (String) throws -> R) throws -> R {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-nginx-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = 20000 + Int(getpid() % 20000)
        let conf = """
            daemon off;
            worker_processes \(workers);
            pid \(directory.path)/nginx.pid;
            error_log \(directory.path)/error.log;
            events { worker_connections 4096; }
            http {
                access_log off;
                client_body_temp_path \(directory.path);
                proxy_temp_path \(directory.path);
                fastcgi_temp_path \(directory.path);
                uwsgi_temp_path \(directory.path);
                scgi_temp_path \(directory.path);
                server {
                    listen 127.0.0.1:\(port);
                    location = /health { default_type text/plain; return 200 "ok\\n"; }
                }
            }
            """
        try conf.write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: nginx)
        process.arguments = ["-p", directory.path, "-c", directory.appendingPathComponent("nginx.conf").path]
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        usleep(300_000)
        return try body("http://127.0.0.1:\(port)/health")
    }

    static func openDescriptors() -> Int { descriptorTargets().count }

    /// What each open descriptor points at ("socket:[...]", "pipe:[...]", paths).
    static func descriptorTargets() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0) }
    }

    func table(_ r: Report) -> String {
        func row(_ name: String, _ l: Load) -> String {
            "| \(name) | \(String(format: "%.0f", l.requestsPerSecond)) | \(l.requests) | \(l.latencyAverage) | \(l.latencyP99) | \(l.non2xx) | \(l.socketErrors ?? "none") |"
        }
        var lines = ["wrk -t\(r.wrkThreads) -c\(r.connections) -d\(r.seconds)s, GET /health (\"ok\\n\")", "",
                     "| server | requests/s | requests | latency avg | p99 | non-2xx | socket errors |", "|---|---|---|---|---|---|---|",
                     row("kvserve", r.kvserve)]
        for (name, load) in r.nginx.sorted(by: { $0.key < $1.key }) {
            lines.append(row("nginx, \(name)", load))
            lines.append("kvserve / nginx (\(name)): " + String(format: "%.2fx", r.kvserve.requestsPerSecond / load.requestsPerSecond))
        }
        lines.append("")
        lines.append("kvserve after \(r.kvserve.requests) keep-alive requests: descriptors \(r.descriptorsBefore) -> \(r.descriptorsAfter), RSS \(String(format: "%.1f", Double(r.residentBytesBefore) / 1_048_576)) -> \(String(format: "%.1f", Double(r.residentBytesAfter) / 1_048_576)) MiB")
        return lines.joined(separator: "\n")
    }
}
