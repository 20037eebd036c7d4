import ArgumentParser
import Foundation
import Server

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the model over HTTP: POST /v1/generate with sessions, streaming server-sent events."
    )

    @Option(help: "The configuration file (JSON).")
    var config = "config/kvserve.json"

    @Option(name: .customLong("set"), parsing: .unconditionalSingleValue,
            help: "Override a configuration key: --set key=value (repeatable; beats KVSERVE_* variables and the file).")
    var settings: [String] = []

    func run() throws {
        var overrides: [String: String] = [:]
        for setting in settings {
            guard let equals = setting.firstIndex(of: "=") else { throw ValidationError("--set takes key=value, not '\(setting)'") }
            overrides[String(setting[..<equals])] = String(setting[setting.index(after: equals)...])
        }
        let file = FileManager.default.fileExists(atPath: config) ? config : nil
        let configuration = try Configuration.load(file: file, environment: ProcessInfo.processInfo.environment, overrides: overrides)
        let log: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("kvserve: \($0)\n".utf8)) }
        let server = try APIServer(configuration: configuration, log: log)
        log("listening on \(configuration.host):\(server.http.port)")
        server.http.shutdownOnSignals(log: log) {
            log("stopped")
            Foundation.exit(0)
        }
        dispatchMain()
    }
}
