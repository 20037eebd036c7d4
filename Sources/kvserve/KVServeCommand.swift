import ArgumentParser

@main
struct KVServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvserve",
        abstract: "An LLM inference server with resident per-conversation KV caches.",
        subcommands: [ServeCommand.self, GenerateCommand.self, TokenizeCommand.self, InspectCommand.self, BenchCommand.self]
    )
}
