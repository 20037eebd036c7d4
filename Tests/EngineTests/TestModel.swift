import Foundation
import Testing
import Model

/// The default model for tests that need it (see ModelTests/TestResources).
enum TestModel {
    static let path = ProcessInfo.processInfo.environment["KVSERVE_TEST_MODEL"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    static let isCI = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty && $0 != "false" } ?? false
    /// Present, or required (in CI, where a missing model must fail, not skip).
    static let enabled = isCI || FileManager.default.fileExists(atPath: path)
    static let missingNote: Comment = "the default model is not fetched: run scripts/fetch-model"

    static let loaded: Result<(ModelFile, LlamaModel), Error> = Result {
        let file = try ModelFile(path: path)
        return (file, try LlamaModel(file: file))
    }
}
