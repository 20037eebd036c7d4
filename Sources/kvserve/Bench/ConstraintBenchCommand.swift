import JSONTree
import ArgumentParser
import Engine
import Foundation
import Model
import Server
import StructuredOutput

/// What a JSON-schema constraint costs: the token mask per step on the
/// model's vocabulary (cold: computed by a trie walk; warm: from the cache),
/// and decode speed with and without the constraint, one stream and many.
struct ConstraintBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "constraint",
        abstract: "Token mask cost per step and constrained vs unconstrained decode speed."
    )

    @Option(help: "Path of the GGUF model file.")
    var model = Configuration().model

    @Option(help: "Streams to decode at once (comma-separated).")
    var streams = "1,16"

    @Option(help: "Tokens per stream.")
    var tokens = 256

    @Option(help: "Rounds of the two runs, in alternating order; the median is reported.")
    var rounds = 3

    @Flag(help: "Measure the masks only (no forward passes): for a vocabulary without the time to run its model.")
    var masksOnly = false

    static let schema = #"""
    {"type":"object","properties":{
      "people":{"type":"array","minItems":1,"items":{"type":"object","properties":{
        "name":{"type":"string"},"age":{"type":"integer"},"email":{"type":"string"},
        "role":{"enum":["admin","user","guest"]},"active":{"type":"boolean"},
        "tags":{"type":"array","items":{"type":"string"},"maxItems":4},
        "address":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"},"zip":{"type":"string"}},
                   "required":["street","city","zip"],"additionalProperties":false}},
        "required":["name","age","email","role","active","tags","address"],"additionalProperties":false}},
      "summary":{"type":"string"}},
     "required":["people","summary"],"additionalProperties":false}
    """#

    static let prompt = "Write a JSON document listing several people (name, age, email, role, tags, address) and a summary.\n"

    func run() throws {
        let file = try ModelFile(path: model)
        let grammar = try JSONGrammar(schema: JSON.parse(Self.schema))
        var start = DispatchTime.now()
        let trie = TokenTrie(tokenizer: file.tokenizer)
        print("vocabulary \(trie.vocabularySize) tokens, trie \(trie.nodeCount) nodes, built in \(String(format: "%.0f", seconds(since: start) * 1e3)) ms; "
              + "bytes without a single-byte token: \(trie.bytesWithoutSingleToken.count)")
        print("schema: minimum \(OutputConstraint.minimumTokens(grammar)) tokens")

        // Masks along random-logit outputs: the first pass fills the cache, the second reads it.
        let masks = TokenMaskCache(grammar: grammar, trie: trie, endOfGeneration: file.endOfGeneration)
        for pass in ["cold", "warm"] {
            var random = SplitMix64(seed: 1)
            var constraint = OutputConstraint(masks)
            var times: [Double] = []
            var logits = [Float](repeating: 0, count: trie.vocabularySize)
            for step in 0..<400 {
                for i in logits.indices { logits[i] = Float(random.next() >> 40) }
                start = DispatchTime.now()
                constraint.mask(remainingTokens: 400 - step).apply(to: &logits)
                times.append(seconds(since: start))
                let token = Int32(logits.indices.max { logits[$0] < logits[$1] }!)
                guard constraint.accept(token), !file.endOfGeneration.contains(token) else { break }
            }
            times.sort()
            print("masks, \(pass): \(times.count) steps, mean \(ms(times.reduce(0, +) / Double(times.count))) ms, median \(ms(times[times.count / 2])) ms, "
                  + "max \(ms(times.last!)) ms (walks \(masks.walks), cache hits \(masks.hits))")
        }
        guard !masksOnly else { return }

        let llama = try DecoderModel(file: file)
        let paged = try PagedDecoderModel(model: llama, kvCacheBytes: 512 << 20, blockSize: 16, elementType: .f16)
        let prompt = file.tokenizer.encode(Self.prompt, addSpecial: true)
        let shared = TokenMaskCache(grammar: grammar, trie: trie, endOfGeneration: file.endOfGeneration)
        for n in streams.split(separator: ",").compactMap({ Int($0) }) {
            // Seconds of each step that decoded every stream, per run.
            func run(constrained: Bool) throws -> [Double] {
                let engine = DecodeEngine(model: paged, endOfGeneration: file.endOfGeneration)
                for s in 0..<n {
                    var sampling = SamplingParameters()
                    sampling.temperature = 1
                    sampling.seed = UInt64(s)
                    var request = GenerationRequest(prompt: prompt, maxTokens: tokens, sampling: sampling, ignoreEOS: !constrained)
                    if constrained { request.constraint = OutputConstraint(shared) }
                    _ = try engine.submit(request)
                }
                var times: [Double] = [], steps = 0
                while engine.hasWork {
                    start = DispatchTime.now()
                    let events = engine.step()
                    let elapsed = seconds(since: start)
                    // Full-batch decode steps only: not the prefill that yields the first tokens.
                    let full = events.filter({ if case .token = $0 { return true } else { return false } }).count == n
                    if full && steps > 0 { times.append(elapsed) }
                    if full { steps += 1 }
                }
                return times
            }
            _ = try run(constrained: false)  // warms the weights and the pool's pages
            // Rounds in alternating order, so neither side always runs first.
            var ratios: [Double] = [], rates: [Bool: [Double]] = [false: [], true: []]
            var k = 0
            for round in 0..<rounds {
                var stepTimes: [Bool: [Double]] = [:]
                for constrained in round % 2 == 0 ? [false, true] : [true, false] {
                    stepTimes[constrained] = try run(constrained: constrained)
                }
                // The same steps of both runs (the same positions, the same batch):
                // constrained replies end sooner, and later positions cost more.
                k = min(stepTimes[false]!.count, stepTimes[true]!.count)
                let free = Double(k * n) / stepTimes[false]!.prefix(k).reduce(0, +)
                let constrained = Double(k * n) / stepTimes[true]!.prefix(k).reduce(0, +)
                rates[false]!.append(free)
                rates[true]!.append(constrained)
                ratios.append(constrained / free)
            }
            func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
            print("\(n) stream(s), first \(k) full-batch decode steps, median of \(rounds) rounds: unconstrained "
                  + "\(String(format: "%.1f", median(rates[false]!))) tokens/s, constrained \(String(format: "%.1f", median(rates[true]!))) tokens/s, "
                  + "ratio \(String(format: "%.3f", median(ratios))) (rounds: \(ratios.map { String(format: "%.3f", $0) }.joined(separator: ", ")))")
        }
        print("mask cache over the decode runs: walks \(shared.walks), hits \(shared.hits)")
    }

    func seconds(since start: DispatchTime) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 }
    func ms(_ s: Double) -> String { String(format: "%.3f", s * 1e3) }
}
