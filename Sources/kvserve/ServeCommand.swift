import ArgumentParser
import Foundation
import Server

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the model over HTTP: the native API and the OpenAI API, streaming server-sent events.",
        discussion: """
        Configuration comes from the file, then KVSERVE_* variables, then the flags. Without --config, kvserve \
        reads config/kvserve.json in the working directory or, failing that, the first one above the executable \
        (the checkout it was built in). Relative paths in a file are relative to that file.
        """
    )

    @Option(help: "The configuration file (JSON).")
    var config: String?

    @Option(help: "The GGUF model file (the configuration key model).")
    var model: String?

    @Option(help: "The address to listen on (host), e.g. 0.0.0.0 for every interface.")
    var host: String?

    @Option(help: "The port to listen on (port; 0 picks a free one).")
    var port: Int?

    @Option(name: .customLong("set"), parsing: .unconditionalSingleValue,
            help: "Override a configuration key: --set key=value (repeatable; beats KVSERVE_* variables and the file).")
    var settings: [String] = []

    func run() throws {
        var overrides: [String: String] = [:]
        for setting in settings {
            guard let equals = setting.firstIndex(of: "=") else { throw ValidationError("--set takes key=value, not '\(setting)'") }
            overrides[String(setting[..<equals])] = String(setting[setting.index(after: equals)...])
        }
        if let model { overrides["model"] = model }
        if let host { overrides["host"] = host }
        if let port { overrides["port"] = String(port) }
        let file: String?
        if let config {
            guard FileManager.default.fileExists(atPath: config) else {
                throw ValidationError("the configuration file '\(config)' does not exist")
            }
            file = config
        } else {
            file = Self.defaultConfigurationFile()
        }
        let configuration = try Configuration.load(file: file, environment: ProcessInfo.processInfo.environment, overrides: overrides)
        let log: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("kvserve: \($0)\n".utf8)) }
        log("configuration: \(file ?? "built-in defaults (no config/kvserve.json found)")")
        // A file size limit (ulimit -f) must fail a write, which the disk
        // tier survives, not kill the server.
        signal(SIGXFSZ, SIG_IGN)
        let server = try APIServer(configuration: configuration, log: log)
        let url = "http://\(configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host):\(server.http.port)"
        log("listening on \(url)")
        let local = configuration.host == "0.0.0.0" || configuration.host == "::" ? "http://127.0.0.1:\(server.http.port)" : url
        let auth = configuration.apiKeys.isEmpty && configuration.apiKeysFile.isEmpty ? "" : " -H 'Authorization: Bearer KEY'"
        log("try: curl -N \(local)/v1/chat/completions\(auth) -d '{\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}],\"stream\":true}'")
        server.http.shutdownOnSignals(log: log, beginning: server.beginShutdown) {
            server.flushDurableWrites()
            log("stopped")
            Foundation.exit(0)
        }
        dispatchMain()
    }

    /// config/kvserve.json in the working directory, else the first one in
    /// a directory above the executable.
    static func defaultConfigurationFile() -> String? {
        let relative = "config/kvserve.json"
        if FileManager.default.fileExists(atPath: relative) { return relative }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().standardizedFileURL
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(relative).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }
}
