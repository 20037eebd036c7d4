import Foundation
import Testing
@testable import Model

/// Which templates of llama.cpp's set have reasoning markers, read from
/// their sources: those that write `<think>` and `</think>` (by hand, from
/// the files), and gpt-oss's analysis channel.
struct ReasoningMarkersTests {
    static func template(_ name: String) throws -> ChatTemplate {
        let url = TestResources.fixture("chat/template-set/\(name).jinja")
        return try ChatTemplate(source: String(decoding: try Data(contentsOf: url), as: UTF8.self))
    }

    @Test(arguments: [
        ("Qwen-Qwen3-0.6B", ReasoningMarkers.think), ("Qwen-QwQ-32B", .think),
        ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", .think), ("HuggingFaceTB-SmolLM3-3B", .think),
        ("openai-gpt-oss-120b", .analysisChannel),
    ])
    func templatesThatReason(_ name: String, _ markers: ReasoningMarkers) throws {
        #expect(ReasoningMarkers(try Self.template(name)) == markers)
    }

    @Test(arguments: ["meta-llama-Llama-3.1-8B-Instruct", "Qwen-Qwen2.5-7B-Instruct", "google-gemma-2-2b-it"])
    func templatesThatDoNot(_ name: String) throws {
        #expect(ReasoningMarkers(try Self.template(name)) == nil)
    }
}
