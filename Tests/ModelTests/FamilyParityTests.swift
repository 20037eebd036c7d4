import Foundation
import Testing
import TestSupport
@testable import Model

/// The qwen2, qwen3 and llama (Llama 3 rope_freqs) forward passes against
/// llama.cpp's greedy output on scripts/make-test-models.py's files (random
/// weights, each family's real tokenizer), which the test makes itself and
/// checks by sha256 against the fixture's (make_family_greedy_fixtures.py).
/// Agreement is demanded up to llama.cpp's first near-tie (top-1 minus top-2
/// log-probability under 0.25), where two correct implementations may round
/// either way.
@Suite(.enabled(if: TestResources.tokenizerVectorsEnabled, TestResources.tokenizerVectorsMissingNote))
struct FamilyParityTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let file: String
            let prompt_ids: [TokenID]
            let completion_ids: [TokenID]
            let margins: [Double?]
        }
        let make_test_models: [String]
        let near_tie: Double
        let files: [String: String]
        let cases: [Case]
    }

    static let fixture = Result { try TestResources.decode(Fixture.self, "forward/families-llama-greedy.json") }

    /// The files, made once for the suite: the directory, and each file's sha256 as the script reports it.
    static let made: Result<(directory: URL, digests: [String: String]), Error> = Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-families-\(UUID().uuidString)")
        let script = TestResources.repositoryRoot.appendingPathComponent("scripts/make-test-models.py").path
        let result = try Subprocess.run("/usr/bin/env", ["python3", script, "--out", directory.path,
                                                         "--vocab-dir", TestResources.tokenizerVectors.path]
                                        + fixture.get().make_test_models)
        guard result.status == 0 else { throw Failure(description: "make-test-models.py failed: \(result.error)") }
        var digests: [String: String] = [:]
        for line in result.output.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2 { digests[String(fields[1])] = String(fields[0]) }
        }
        return (directory, digests)
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    @Test func theFilesAreTheOnesTheFixtureWasMadeFrom() throws {
        #expect(try Self.made.get().digests == Self.fixture.get().files)
    }

    @Test(arguments: ["qwen2-f32.gguf", "qwen2-tied-f32.gguf", "qwen3-f32.gguf", "qwen3-tied-f32.gguf",
                      "llama3-f32.gguf", "llama3-tied-f32.gguf"])
    func greedyAgreesWithLlamaCppUpToItsFirstNearTie(_ name: String) throws {
        let fixture = try Self.fixture.get(), made = try Self.made.get()
        defer { try? FileManager.default.removeItem(at: made.directory.appendingPathComponent(name)) }
        let cases = fixture.cases.filter { $0.file == name }
        #expect(cases.count >= 10)
        let path = made.directory.appendingPathComponent(name).path
        let file = try ModelFile(path: path)
        var compared = 0
        for precision in DecoderModel.ActivationPrecision.allCases {
            let model = try DecoderModel(file: file, activations: precision)
            for c in cases {
                // Steps before the first near-tie; a case without margins (llama-server gave none) counts whole.
                let sure = c.margins.firstIndex { ($0 ?? .infinity) < fixture.near_tie } ?? c.completion_ids.count
                let ours = ReferenceOutputTests().greedy(model, prompt: c.prompt_ids, steps: sure, eos: nil)
                #expect(ours == Array(c.completion_ids.prefix(sure)),
                        "\(name), \(c.prompt_ids.count) prompt ids, \(precision) activations")
                compared += sure
            }
        }
        #expect(compared >= 100, "\(name): only \(compared) steps before near-ties")
    }
}
