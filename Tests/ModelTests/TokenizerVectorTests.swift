import Foundation
import Testing
@testable import Model

/// llama.cpp's tokenizer vectors (scripts/fetch-tokenizer-vectors puts them
/// in vendor-data/tokenizer-vectors): every vector of all six vocabularies
/// must give exactly the expected ids. Skipped without them, except in CI,
/// where they must be there.
@Suite(.enabled(if: TestResources.tokenizerVectorsEnabled, TestResources.tokenizerVectorsMissingNote))
struct TokenizerVectorTests {
    static let vocabularies = ["gpt-2", "llama-bpe", "llama-spm", "phi-3", "qwen2", "starcoder"]

    struct Case { let text: String; let ids: [TokenID] }

    /// The vocabulary's GGUF file; fails, saying what to run, when the vectors are missing (in CI).
    static func vocabulary(_ name: String) throws -> URL {
        try #require(TestResources.tokenizerVectorsPresent, TestResources.tokenizerVectorsMissingNote)
        return TestResources.tokenizerVectors.appendingPathComponent("ggml-vocab-\(name).gguf")
    }

    static func cases(_ name: String) throws -> [Case] {
        let base = try vocabulary(name)
        let input = try String(contentsOf: base.appendingPathExtension("inp"), encoding: .utf8)
        let output = try String(contentsOf: base.appendingPathExtension("out"), encoding: .utf8)
        var texts = input.components(separatedBy: "\n__ggml_vocab_test__\n")
        #expect(texts.last == "")
        texts.removeLast()
        var lines = output.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        #expect(texts.count == lines.count, "\(name): \(texts.count) inputs, \(lines.count) outputs")
        return zip(texts, lines).map { text, line in
            Case(text: text, ids: line.split(separator: " ").map { TokenID($0)! })
        }
    }

    @Test(arguments: vocabularies)
    func everyVectorPasses(_ name: String) throws {
        let path = try Self.vocabulary(name).path
        let tokenizer = try Tokenizer(GGUFFile(path: path))
        let cases = try Self.cases(name)
        #expect(cases.count >= 30)
        var failures = 0
        for c in cases {
            let ids = tokenizer.encode(c.text)
            if ids != c.ids {
                failures += 1
                Issue.record("\(name): \(c.text.debugDescription) gave \(ids), expected \(c.ids)")
            }
        }
        #expect(failures == 0)
    }

    /// Decoding is exact: the tokens of a text give back its bytes (the SPM
    /// vocabulary adds the leading space of add_space_prefix).
    @Test(arguments: vocabularies)
    func decodingRoundTrips(_ name: String) throws {
        let path = try Self.vocabulary(name).path
        let tokenizer = try Tokenizer(GGUFFile(path: path))
        for c in try Self.cases(name) {
            let decoded = tokenizer.decode(c.ids)
            let expected = tokenizer.vocabulary.addSpacePrefix && !c.text.isEmpty ? " " + c.text : c.text
            #expect(Array(decoded.utf8) == Array(expected.utf8), "\(name): \(c.text.debugDescription)")
        }
    }
}
