import Foundation
import Testing
import TestSupport
@testable import Model

/// The qwen2, qwen3, phi3 and llama (Llama 3 rope_freqs) forward passes on
/// scripts/make-test-models.py's files (random weights, each family's real
/// tokenizer), which the test makes itself and checks by sha256 against the
/// fixture's (make_family_greedy_fixtures.py), against two truths:
/// - a float64 numpy pass (family_forward.py): its logits at the last
///   position of a short and a long prompt, computed at test time on the
///   same file, within Gemma 3's bounds (relative L2 1e-4 with exact
///   activations and an f32 cache, 0.1 with 8-bit activations on a
///   quantized file); and its greedy ids, up to its first near-tie;
/// - llama.cpp's greedy output, up to its first near-tie or the float64
///   pass's, or the first step where it departs from the float64 pass
///   (there llama.cpp rounded: its F16 key/value cache, its 8-bit
///   activations).
/// A near-tie is a top-1 minus top-2 margin under 0.25, where two correct
/// implementations may round either way. With 8-bit activations on a
/// quantized file the margin is wider (`eight_bit_near_tie`, 3): quantizing
/// the activations moves these files' logits (standard deviation ~32) by a
/// few units. Measured on the fixture, llama.cpp departed from the float64
/// pass in 24 of 34 Q8_0 cases at float64 margins up to 2.71 (kvserve's
/// 8-bit path in 22, up to 2.39) and in 44 of 56 K-quant cases up to 3.34;
/// kvserve's exact path in none.
@Suite(.enabled(if: TestResources.tokenizerVectorsEnabled, TestResources.tokenizerVectorsMissingNote))
struct FamilyParityTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let file: String
            let prompt_ids: [TokenID]
            let completion_ids: [TokenID]
            let margins: [Double?]
            let reference_ids: [TokenID]
            let reference_margins: [Double]
        }
        /// make-test-models.py's invocations (arguments after `--out DIR`).
        let make_test_models: [[String]]
        let near_tie: Double
        let eight_bit_near_tie: Double
        let files: [String: String]
        let cases: [Case]
    }

    static let fixture = Result { try TestResources.decode(Fixture.self, "forward/families-llama-greedy.json") }

    /// The files, made once for the suite: the directory, and each file's sha256 as the script reports it.
    static let made: Result<(directory: URL, digests: [String: String]), Error> = Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-families-\(UUID().uuidString)")
        let script = TestResources.repositoryRoot.appendingPathComponent("scripts/make-test-models.py").path
        var digests: [String: String] = [:]
        for arguments in try fixture.get().make_test_models {
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
                      "llama3-f32.gguf", "llama3-tied-f32.gguf", "phi3-f32.gguf", "phi3-tied-f32.gguf",
                      "phi3-partial-f32.gguf", "phi3-longrope-f32.gguf", "qwen2-q8_0.gguf", "llama3-q8_0.gguf",
                      "phi3-longrope-q8_0.gguf", "llama3-tied-bf16.gguf", "llama3-tied-q3_k.gguf", "llama3-tied-q2_k.gguf",
                      "qwen3-q4_k.gguf", "phi3-q4_k.gguf", "qwen2-q3_k.gguf"])
    func agreesWithTheFloat64PassAndLlamaCpp(_ name: String) throws {
        let fixture = try Self.fixture.get(), made = try Self.made.get()
        defer { try? FileManager.default.removeItem(at: made.directory.appendingPathComponent(name)) }
        let cases = fixture.cases.filter { $0.file == name }
        #expect(cases.count >= 10)
        let path = made.directory.appendingPathComponent(name).path
        let file = try ModelFile(path: path)
        let references = try Self.float64Logits(path, prompts: Self.logitPrompts(cases))
        var compared = 0
        for precision in DecoderModel.ActivationPrecision.allCases {
            let model = try DecoderModel(file: file, activations: precision)
            let eightBit = model.layers[0].query.panelKernel != nil
            for (prompt, reference) in zip(Self.logitPrompts(cases), references) {
                let logits = Self.lastLogits(model, prompt)
                let relative = relativeL2(logits, from: reference)
                print("\(name), \(prompt.count) prompt ids, \(precision) activations: relative L2 \(relative)")
                #expect(relative < (eightBit ? 0.1 : 1e-4), "\(name), \(prompt.count) prompt ids, \(precision) activations")
            }
            let tie = eightBit ? fixture.eight_bit_near_tie : fixture.near_tie
            for c in cases {
                let sureOfReference = c.reference_margins.firstIndex { $0 < tie } ?? c.reference_ids.count
                let llamaRounded = zip(c.completion_ids, c.reference_ids).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                let sureOfLlama = min(c.margins.firstIndex { ($0 ?? .infinity) < tie } ?? c.completion_ids.count,
                                      llamaRounded ?? c.completion_ids.count, sureOfReference)
                let ours = ReferenceOutputTests().greedy(model, prompt: c.prompt_ids, steps: max(sureOfReference, sureOfLlama), eos: nil)
                let what = "\(name), \(c.prompt_ids.count) prompt ids, \(precision) activations"
                #expect(Array(ours.prefix(sureOfReference)) == Array(c.reference_ids.prefix(sureOfReference)), "float64: \(what)")
                #expect(Array(ours.prefix(sureOfLlama)) == Array(c.completion_ids.prefix(sureOfLlama)), "llama.cpp: \(what)")
                compared += sureOfReference
            }
        }
        #expect(compared >= 100, "\(name): only \(compared) steps before near-ties")
    }

    /// The prompts whose last position's logits are compared with the
    /// float64 pass: the first short one, and the first long one if any.
    static func logitPrompts(_ cases: [Fixture.Case]) -> [[TokenID]] {
        [cases[0].prompt_ids] + (cases.first { $0.prompt_ids.count > 1000 }.map { [$0.prompt_ids] } ?? [])
    }

    /// family_forward.py's float64 logits at each prompt's last position,
    /// computed now on the same file.
    static func float64Logits(_ path: String, prompts: [[TokenID]]) throws -> [[Float]] {
        let output = path + ".logits.f32"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let script = TestResources.repositoryRoot.appendingPathComponent("scripts/fixtures/family_forward.py").path
        let ids = prompts.flatMap { ["--ids", $0.map(String.init).joined(separator: ",")] }
        let result = try Subprocess.run("/usr/bin/env", ["python3", script, path] + ids + ["--logits", output])
        guard result.status == 0 else { throw Failure(description: "family_forward.py failed: \(result.error)") }
        let floats = try Data(contentsOf: URL(fileURLWithPath: output)).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let vocabulary = floats.count / prompts.count
        return prompts.indices.map { Array(floats[($0 * vocabulary)..<(($0 + 1) * vocabulary)]) }
    }

    /// Logits of the prompt's last position, run from position 0 with an f32 cache.
    static func lastLogits(_ model: DecoderModel, _ prompt: [TokenID]) -> [Float] {
        let table = (0..<(prompt.count / 16 + 1)).map { Int32($0) }
        let cache = KVArena(hyperparameters: model.hyperparameters, elementType: .f32, blockSize: 16, blockCount: table.count)
        return model.forward([ForwardSequence(tokens: prompt, startPosition: 0, blockTable: table)], cache: cache)[0]!
    }
}
