import Foundation
import Testing
import TestSupport
@testable import Model

/// Paths of fixtures, the tokenizer vectors and the default model.
enum TestResources {
    static let repositoryRoot = DefaultModel.repositoryRoot

    static func fixture(_ relativePath: String) -> URL {
        repositoryRoot.appendingPathComponent("Tests/ModelTests/Fixtures").appendingPathComponent(relativePath)
    }

    /// llama.cpp's tokenizer vectors as scripts/fetch-tokenizer-vectors
    /// installs them (vendor-data/tokenizer-vectors), or
    /// KVSERVE_TEST_TOKENIZER_VECTORS. Required in CI, like the model.
    static let tokenizerVectors = ProcessInfo.processInfo.environment["KVSERVE_TEST_TOKENIZER_VECTORS"]
        .map { URL(fileURLWithPath: $0) } ?? repositoryRoot.appendingPathComponent("vendor-data/tokenizer-vectors")
    static let tokenizerVectorsPresent = FileManager.default.fileExists(
        atPath: tokenizerVectors.appendingPathComponent("ggml-vocab-gpt-2.gguf").path)
    static let tokenizerVectorsEnabled = DefaultModel.isCI || tokenizerVectorsPresent
    static let tokenizerVectorsMissingNote = Comment(rawValue:
        "the tokenizer vectors are not fetched: run scripts/fetch-tokenizer-vectors (looked in \(tokenizerVectors.path))")

    static let modelPath = DefaultModel.path
    static let modelTestsEnabled = DefaultModel.testsEnabled
    static let modelMissingNote = Comment(rawValue: DefaultModel.missingNote)

    /// gemma-3-270m Q4_K_M (`scripts/fetch-model gemma3`), where TestSupport's GemmaModel finds it.
    static let gemmaPresent = GemmaModel.testsEnabled
    static let gemmaMissingNote = Comment(rawValue: GemmaModel.missingNote)
    static let gemma: Result<GGUFFile, Error> = Result { try GGUFFile(path: GemmaModel.path) }

    /// The default model, loaded once for all tests.
    static let model: Result<ModelFile, Error> = Result { try ModelFile(path: modelPath) }

    static func requireModel() throws -> ModelFile {
        do { return try model.get() } catch {
            throw ModelMissing(message: "cannot load the default model at \(modelPath): \(error). Run scripts/fetch-model.")
        }
    }

    struct ModelMissing: Error, CustomStringConvertible { let message: String; var description: String { message } }

    /// Decodes a JSON fixture. (JSONDecoder, not JSONSerialization: the
    /// latter drops a byte order mark at the start of a string on Linux.)
    static func decode<T: Decodable>(_ type: T.Type, _ relativePath: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: fixture(relativePath)))
    }
}

/// Fixture shapes (see scripts/fixtures/).
struct DequantFixture: Decodable {
    struct Row: Decodable { let index: Int; let values: [Double] }
    struct Tensor: Decodable {
        let name: String
        let type: String
        let shape: [Int]
        let values: [Double]?
        let rows: [Row]?
    }
    let tensors: [Tensor]
}

struct TokenizerFixture: Decodable {
    struct Case: Decodable { let text: String; let parse_special: Bool; let ids: [TokenID] }
    let cases: [Case]
}

struct ChatFixture: Decodable {
    struct Case: Decodable { let messages: [ChatMessage]; let add_generation_prompt: Bool; let rendered: String }
    let template: String
    let cases: [Case]
}

struct GreedyFixture: Decodable {
    struct Case: Decodable {
        let name: String
        let chat: Bool
        let prompt_ids: [TokenID]
        let completion_ids: [TokenID]
        let stop_type: String
        /// Per step, llama.cpp's top five as [id, log-probability] pairs.
        let completion_top_logprobs: [[[Double]]]
    }
    let cases: [Case]
}

struct LogitsFixture: Decodable {
    let prompt_ids: [TokenID]
    let positions: [Int]
    let logits_file: String
    /// The same forward pass with every quantized-weight product's input
    /// quantized to 8 bits exactly as kvserve's int8 path does (SmolLM2's
    /// fixture only).
    let int8_logits_file: String?
    let n_vocab: Int

    /// A .f32 file's logits, one row for each of `positions`.
    func rows(_ file: String) throws -> [[Float]] {
        let data = try Data(contentsOf: TestResources.fixture("forward/" + file))
        let values = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        try #require(values.count == positions.count * n_vocab, "\(file) does not hold one row per position")
        return positions.indices.map { k in Array(values[(k * n_vocab)..<((k + 1) * n_vocab)]) }
    }
}

/// |logits - reference| / |reference| over whole rows, summed in Double so
/// that the 262,144 terms of a Gemma row add no rounding of their own.
func relativeL2(_ logits: [Float], from reference: [Float]) -> Double {
    var difference = 0.0, norm = 0.0
    for (a, b) in zip(logits, reference) {
        difference += Double(a - b) * Double(a - b)
        norm += Double(b) * Double(b)
    }
    return (difference / norm).squareRoot()
}
