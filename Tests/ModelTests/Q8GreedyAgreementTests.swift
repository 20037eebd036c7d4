import Foundation
import Testing
@testable import Model

/// q8_0 against f16 on the real model: greedy generations must agree token
/// for token until f16 itself is near a tie (its top two logits within
/// 0.25), where the cache's rounding may rightly tip the choice.
///
/// With float activations, so that what is measured is the cache: 8-bit
/// activations turn any perturbation into chaotic noise of their own (an
/// f32 cache instead of f16 moves single logits by up to 1.7 there, against
/// 0.03 with float activations). Measured with 8-bit activations all the
/// same, q8_0 left f16 before a near-tie on 2 of these 20 prompts, where
/// f16's lead was 0.27 and 0.25.
@Suite(.enabled(if: TestResources.modelTestsEnabled, TestResources.modelMissingNote))
struct Q8GreedyAgreementTests {
    static let llama: Result<DecoderModel, Error> = Result { try DecoderModel(file: TestResources.requireModel(), activations: .float) }

    static let prompts = [
        "The capital of France is",
        "def fibonacci(n):",
        "Once upon a time, in a small village at the edge of a great forest,",
        "The three primary colors are",
        "To make a cup of tea, first",
        "import numpy as np\n\ndef normalize(v):",
        "Water boils at 100 degrees Celsius because",
        "Here is a list of five fruits:\n1.",
        "The theory of relativity, proposed by Albert Einstein,",
        "SELECT name, age FROM users WHERE",
        "Dear hiring manager, I am writing to apply for",
        "The quick brown fox jumps over the lazy dog. The quick brown fox",
        "In 1969, the first humans landed on",
        "Photosynthesis is the process by which plants",
        "#include <stdio.h>\n\nint main(void) {",
        "Q: What is 12 times 12?\nA:",
        "The most important thing about learning a new language is",
        "<|im_start|>user\nWrite a haiku about autumn.<|im_end|>\n<|im_start|>assistant\n",
        "The mitochondria is the powerhouse of",
        "A good night's sleep helps the brain",
    ]

    static let steps = 64, nearTie: Float = 0.25

    /// Greedy tokens and each step's logits, with keys and values cached as `type`.
    func generate(_ model: DecoderModel, _ prompt: [TokenID], _ type: KVElementType) -> (tokens: [TokenID], logits: [[Float]]) {
        let blocks = (prompt.count + Self.steps) / 16 + 1
        let table = (0..<Int32(blocks)).map { $0 }
        let arena = KVArena(hyperparameters: model.hyperparameters, elementType: type, blockSize: 16, blockCount: blocks)
        var logits = model.forward([ForwardSequence(tokens: prompt, startPosition: 0, blockTable: table)], cache: arena)[0]!
        var tokens: [TokenID] = [], all: [[Float]] = []
        for i in 0..<Self.steps {
            all.append(logits)
            tokens.append(argmax(logits))
            if i + 1 < Self.steps {
                logits = model.forward([ForwardSequence(tokens: [tokens[i]], startPosition: prompt.count + i, blockTable: table)], cache: arena)[0]!
            }
        }
        return (tokens, all)
    }

    static func logSoftmax(_ logits: [Float], at token: TokenID) -> Double {
        let m = Double(logits.max()!)
        return Double(logits[Int(token)]) - m - Foundation.log(logits.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) })
    }

    @Test func greedyRepliesAgreeWithF16UntilANearTie() throws {
        let model = try Self.llama.get()
        let tokenizer = try TestResources.requireModel().tokenizer
        var report: [String] = []
        for (n, text) in Self.prompts.enumerated() {
            let prompt = try tokenizer.encode(text)
            let f16 = generate(model, prompt, .f16), q8 = generate(model, prompt, .q8_0)
            let agreed = zip(f16.tokens, q8.tokens).prefix { $0 == $1 }.count
            let tie = f16.logits.firstIndex { logits in
                let sorted = logits.sorted(by: >)
                return sorted[0] - sorted[1] < Self.nearTie
            } ?? Self.steps
            var worst = 0.0
            for i in 0..<agreed {
                worst = max(worst, abs(Self.logSoftmax(f16.logits[i], at: f16.tokens[i]) - Self.logSoftmax(q8.logits[i], at: q8.tokens[i])))
            }
            report.append("prompt \(n): agree \(agreed)/\(Self.steps), first f16 near-tie at \(tie), max |logprob diff| \(String(format: "%.4f", worst))")
            #expect(agreed >= tie, "prompt \(n) (\(text.prefix(30))): q8_0 left f16 at token \(agreed), before f16's first near-tie at \(tie)")
        }
        print(report.joined(separator: "\n"))
    }
}
