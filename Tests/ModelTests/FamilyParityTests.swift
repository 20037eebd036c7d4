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
///
/// The llama3-tied file in BF16 is held to llama.cpp's run of it, in both
/// precisions. In Q3_K and Q2_K it is held, in float (exact) activations, to
/// llama.cpp's run of an F32 copy with every tensor dequantized by gguf: the
/// same weights in plain float math. llama.cpp's run of the K-quant file
/// itself quantizes activations to Q8_K, and on these files (logits of
/// standard deviation 32) that rounding alone moves its greedy ids at
/// margins of 1-3, before any near-tie; those runs are in the fixture and
/// the first disagreement with them is only reported.
@Suite(.enabled(if: TestResources.tokenizerVectorsEnabled, TestResources.tokenizerVectorsMissingNote))
struct FamilyParityTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let file: String
            let prompt_ids: [TokenID]
            let completion_ids: [TokenID]
            let margins: [Double?]
            /// What llama.cpp ran: the file ("file" or absent), or its
            /// dequantized F32 copy ("f32-copy").
            let llama_input: String?
        }
        let make_test_models: [String]
        let make_test_models_quantized: [String]
        let near_tie: Double
        let files: [String: String]
        let cases: [Case]
    }

    static let fixture = Result { try TestResources.decode(Fixture.self, "forward/families-llama-greedy.json") }

    /// The files, made once for the suite: the directory, and each file's sha256 as the script reports it.
    static let made: Result<(directory: URL, digests: [String: String]), Error> = Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-families-\(UUID().uuidString)")
        let script = TestResources.repositoryRoot.appendingPathComponent("scripts/make-test-models.py").path
        var digests: [String: String] = [:]
        for arguments in [try fixture.get().make_test_models, try fixture.get().make_test_models_quantized] {
            let result = try Subprocess.run("/usr/bin/env", ["python3", script, "--out", directory.path,
                                                             "--vocab-dir", TestResources.tokenizerVectors.path] + arguments)
            guard result.status == 0 else { throw Failure(description: "make-test-models.py failed: \(result.error)") }
            for line in result.output.split(separator: "\n") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if fields.count >= 2 { digests[String(fields[1])] = String(fields[0]) }
            }
        }
        return (directory, digests)
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    @Test func theFilesAreTheOnesTheFixtureWasMadeFrom() throws {
        #expect(try Self.made.get().digests == Self.fixture.get().files)
    }

    @Test(arguments: ["qwen2-f32.gguf", "qwen2-tied-f32.gguf", "qwen3-f32.gguf", "qwen3-tied-f32.gguf",
                      "llama3-f32.gguf", "llama3-tied-f32.gguf", "llama3-tied-bf16.gguf"])
    func greedyAgreesWithLlamaCppUpToItsFirstNearTie(_ name: String) throws {
        defer { Self.remove(name) }
        let compared = try Self.compare(name, llamaInput: "file", precisions: DecoderModel.ActivationPrecision.allCases)
        #expect(compared >= 100, "\(name): only \(compared) steps before near-ties")
    }

    /// Exact activations on the K-quant file against llama.cpp on its
    /// dequantized copy; the runs of the K-quant file itself are reported.
    @Test(arguments: ["llama3-tied-q3_k.gguf", "llama3-tied-q2_k.gguf"])
    func kQuantGreedyAgreesWithLlamaCppOnTheDequantizedWeights(_ name: String) throws {
        defer { Self.remove(name) }
        let compared = try Self.compare(name, llamaInput: "f32-copy", precisions: [.float])
        #expect(compared >= 80, "\(name): only \(compared) steps before near-ties")
        for precision in DecoderModel.ActivationPrecision.allCases {
            for line in try Self.divergence(name, precision: precision) { print(line) }
        }
    }

    /// Deletes a made file once its test is done with it (they are large).
    static func remove(_ name: String) {
        if let made = try? made.get() { try? FileManager.default.removeItem(at: made.directory.appendingPathComponent(name)) }
    }

    /// Steps compared: every case of `name` run by llama.cpp on `llamaInput`,
    /// greedy up to its first near-tie, in each precision.
    static func compare(_ name: String, llamaInput: String, precisions: [DecoderModel.ActivationPrecision]) throws -> Int {
        let fixture = try fixture.get(), made = try made.get()
        let cases = fixture.cases.filter { $0.file == name && ($0.llama_input ?? "file") == llamaInput }
        #expect(cases.count >= 10)
        let file = try ModelFile(path: made.directory.appendingPathComponent(name).path)
        var compared = 0
        for precision in precisions {
            let model = try DecoderModel(file: file, activations: precision)
            for c in cases {
                // Steps before the first near-tie; a case without margins (llama-server gave none) counts whole.
                let sure = c.margins.firstIndex { ($0 ?? .infinity) < fixture.near_tie } ?? c.completion_ids.count
                let ours = ReferenceOutputTests().greedy(model, prompt: c.prompt_ids, steps: sure, eos: nil)
                #expect(ours == Array(c.completion_ids.prefix(sure)),
                        "\(name), \(c.prompt_ids.count) prompt ids, \(precision) activations, llama.cpp on \(llamaInput)")
                compared += sure
            }
        }
        return compared
    }

    /// Where kvserve first leaves llama.cpp's greedy ids on the file itself,
    /// with llama.cpp's margin there (a report for the K-quant files).
    static func divergence(_ name: String, precision: DecoderModel.ActivationPrecision) throws -> [String] {
        let fixture = try fixture.get(), made = try made.get()
        let model = try DecoderModel(file: ModelFile(path: made.directory.appendingPathComponent(name).path), activations: precision)
        return fixture.cases.filter { $0.file == name && $0.llama_input == "file" }.map { c in
            let ours = ReferenceOutputTests().greedy(model, prompt: c.prompt_ids, steps: c.completion_ids.count, eos: nil)
            let first = zip(ours, c.completion_ids).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? c.completion_ids.count
            let tie = c.margins.firstIndex { ($0 ?? .infinity) < fixture.near_tie } ?? c.completion_ids.count
            let margin = first < c.margins.count ? c.margins[first].map { String($0) } ?? "-" : "-"
            return "\(name) \(precision) vs llama.cpp on the file: \(c.prompt_ids.count) prompt ids, first difference at step "
                + "\(first) of \(c.completion_ids.count) (llama.cpp margin there \(margin)), first near-tie at \(tie)"
        }
    }
}
