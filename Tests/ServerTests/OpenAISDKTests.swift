import Foundation
import HTTPServer
import Server
import Testing
import TestSupport

/// The OpenAI-compatible routes as the official `openai` Python SDK (3.57.0)
/// meets them: each test runs one check of `OpenAI/sdk_checks.py` against one
/// server on the real model with two API keys (two tenants). The checks say
/// what they compare against; a failure shows the script's traceback.
@Suite(.serialized,
       .enabled(if: DefaultModel.testsEnabled, Comment(rawValue: DefaultModel.missingNote)),
       .enabled(if: PythonOpenAISDK.installed || DefaultModel.isCI, Comment(rawValue: PythonOpenAISDK.missingNote)))
struct OpenAISDKTests {
    static let checks = [
        "models", "chat_nonstream", "chat_stream", "chat_logprobs", "chat_content_parts", "chat_errors",
        "completions", "stateless_replay", "session_header", "prompt_cache_key", "session_id_body",
        "responses_chain", "responses_stream", "previous_response_not_found", "auth", "tenants", "control_tokens",
        "strict_schemas",
        // Tool calls: OpenAI/tool_checks.py.
        "tools_chat_round_trip", "tools_responses_round_trip", "tools_errors",
        // Structured output: OpenAI/structured_checks.py.
        "structured_chat", "structured_parse", "structured_json_object", "structured_responses", "structured_errors",
        "structured_tool_arguments", "structured_native", "structured_native_unseen",
    ]

    static let keys = ["sdk-key-a", "sdk-key-b"]

    static let server: Result<APIServer, Error> = Result {
        var c = Configuration.forTests(kvCacheBytes: 256 << 20)
        c.apiKeys = keys
        return try APIServer(configuration: c)
    }

    @Test(arguments: checks)
    func sdkCheck(_ name: String) throws {
        try #require(PythonOpenAISDK.installed, Comment(rawValue: PythonOpenAISDK.missingNote))
        let port = try Self.server.get().http.port
        let script = name.hasPrefix("tools_") ? PythonOpenAISDK.toolChecks
            : name.hasPrefix("structured_") ? PythonOpenAISDK.structuredChecks : PythonOpenAISDK.checks
        let result = try PythonOpenAISDK.run(["python3", script, "--base-url", "http://127.0.0.1:\(port)",
                                              "--key", Self.keys[0], "--other-key", Self.keys[1], name])
        #expect(result.status == 0, "sdk_checks.py \(name) exited with \(result.status):\n\(result.output)")
        #expect(result.output.contains(#""check": "\#(name)", "ok": true"#), "sdk_checks.py \(name) printed:\n\(result.output)")
    }
}

/// The Python side: the checks script beside this file, and whether
/// `python3` can import the SDK. Outside CI the suite is skipped without it;
/// in CI it runs and each test fails saying what to install. (Not members of
/// the suite: its traits cannot refer to the suite's own members.)
enum PythonOpenAISDK {
    static let checks = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("OpenAI/sdk_checks.py").path

    static let toolChecks = URL(fileURLWithPath: checks).deletingLastPathComponent().appendingPathComponent("tool_checks.py").path
    static let structuredChecks = URL(fileURLWithPath: checks).deletingLastPathComponent().appendingPathComponent("structured_checks.py").path

    static let installed = (try? run(["python3", "-c", "import openai"]).status) == 0

    static let missingNote = "the openai Python SDK is not installed: pip install openai==3.57.0"

    /// Runs `/usr/bin/env ARGUMENTS`; standard error joins the output.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try Subprocess.run("/usr/bin/env", arguments, includeErrors: true)
    }
}
