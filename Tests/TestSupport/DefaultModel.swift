import Foundation

/// The default model as the tests find it: KVSERVE_TEST_MODEL, or the file
/// scripts/fetch-model writes. Tests that need it run when it is present,
/// and always in CI, where a missing model must fail rather than skip.
public enum DefaultModel {
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static let path = ProcessInfo.processInfo.environment["KVSERVE_TEST_MODEL"]
        ?? repositoryRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path

    public static let isCI = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty && $0 != "false" } ?? false

    /// Quick mode (`scripts/test --quick` sets KVSERVE_TEST_QUICK=1): the
    /// tests that need PostgreSQL or nginx are skipped, saying so, even in CI.
    public static let isQuick = ProcessInfo.processInfo.environment["KVSERVE_TEST_QUICK"].map { !$0.isEmpty && $0 != "0" } ?? false

    public static let testsEnabled = isCI || FileManager.default.fileExists(atPath: path)

    public static let missingNote = "the default model is not fetched: run scripts/fetch-model"
}

/// The second model, gemma-3-270m Q4_K_M (`scripts/fetch-model gemma3`):
/// KVSERVE_TEST_GEMMA_MODEL or its place under models/. Required in CI too.
public enum GemmaModel {
    public static let path = ProcessInfo.processInfo.environment["KVSERVE_TEST_GEMMA_MODEL"]
        ?? DefaultModel.repositoryRoot.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path

    public static let testsEnabled = DefaultModel.isCI || FileManager.default.fileExists(atPath: path)

    public static let missingNote = "the Gemma 3 model is not fetched: run scripts/fetch-model gemma3"
}

extension DefaultModel {
    /// A copy of the default model whose chat template key is renamed (to
    /// `tokenizer.chat_templatX`, the same length, so no offset moves): a
    /// real model that has no chat template. Made once per test process.
    public static func withoutChatTemplate() throws -> String {
        try copyWithoutTemplate.get()
    }

    private static let copyWithoutTemplate: Result<String, Error> = Result {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let key = Data("tokenizer.chat_template".utf8)
        var length = UInt64(key.count).littleEndian
        let prefixed = withUnsafeBytes(of: &length) { Data($0) } + key
        guard let range = bytes.range(of: prefixed) else { throw CocoaError(.fileReadCorruptFile) }
        bytes[range.upperBound - 1] = UInt8(ascii: "X")
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-no-template-\(getpid()).gguf")
        try bytes.write(to: copy)
        return copy.path
    }
}
