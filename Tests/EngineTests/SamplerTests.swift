import Testing
@testable import Engine
import Model

@Suite struct SamplerTests {
    func parameters(_ edit: (inout SamplingParameters) -> Void) -> SamplingParameters {
        var p = SamplingParameters()
        edit(&p)
        return p
    }

    @Test func greedyTakesTheLargestLogitLowestIdOnTies() {
        var s = Sampler(parameters { $0.temperature = 0 })
        #expect(s.sample([0.1, 2.0, -1, 2.0]) == 1)
    }

    /// The top-k selection against the whole vocabulary sorted: logits from
    /// a few values (many ties), masked ones (-inf), every k around the edges.
    @Test func topKSelectionIsTheSortedPrefix() {
        var random = SplitMix64(seed: 9)
        for trial in 0..<200 {
            let n = 1 + Int(random.next() % 300)
            let logits = (0..<n).map { _ -> Float in
                switch random.next() % 10 {
                case 0, 1: return -.infinity
                default: return Float(random.next() % 7) * 0.5 - 1
                }
            }
            let sorted = SamplingParameters.ranked(logits)
            for k in [1, 2, 40, n - 1, n] where k >= 1 && k <= n {
                let best = SamplingParameters.best(k, of: logits)
                #expect(best.map(\.id) == sorted.prefix(k).map(\.id), "trial \(trial) n \(n) k \(k)")
            }
        }
    }

    @Test func topKOfOneIsGreedyAtAnyTemperature() {
        var s = Sampler(parameters { $0.temperature = 5; $0.topK = 1; $0.seed = 3 })
        for _ in 0..<50 { #expect(s.sample([0.5, 0.2, 3.0, 2.9]) == 2) }
    }

    @Test func aSeedMakesSamplingReproducible() {
        let p = parameters { $0.temperature = 1.5; $0.topK = 0; $0.topP = 1; $0.minP = 0; $0.seed = 42 }
        var a = Sampler(p), b = Sampler(p)
        let logits: [Float] = [1, 1.2, 0.8, 1.1, 0.9]
        let first = (0..<100).map { _ in a.sample(logits) }
        #expect(first == (0..<100).map { _ in b.sample(logits) })
        #expect(Set(first).count > 1, "temperature 1.5 over near-equal logits should vary")
    }

    @Test func minPDropsUnlikelyTokens() {
        // exp(0 - 5) = 0.0067 of the top probability: below min_p 0.05.
        var s = Sampler(parameters { $0.temperature = 1; $0.topK = 0; $0.topP = 1; $0.minP = 0.05; $0.seed = 1 })
        for _ in 0..<200 { #expect(s.sample([5, 0, 5]) != 1) }
    }

    @Test func repeatPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        // Token 0: 2.0 / 2 = 1.0 < token 1's 1.5, so greedy switches to 1.
        var s = Sampler(parameters { $0.temperature = 0; $0.repeatPenalty = 2 })
        #expect(s.sample([2.0, 1.5, -1], history: [0]) == 1)
        // Token 2: -0.5 * 2 = -1.0, now below token 1's -0.9.
        #expect(s.sample([-2, -0.9, -0.5], history: [2]) == 1)
    }
}

/// OpenAI's presence and frequency penalties, on hand-worked logits.
@Suite struct PenaltyTests {
    @Test func presenceAndFrequencyPenaltiesSubtractPerTokenSeen() {
        var p = SamplingParameters()
        p.temperature = 0
        // Token 0 leads by 1.0; seen twice, it loses 0.3 + 2 * 0.4 = 1.1 and token 1 wins.
        p.presencePenalty = 0.3
        p.frequencyPenalty = 0.4
        var s = Sampler(p)
        #expect(s.sample([2.0, 1.0, 0.5], history: [0, 0]) == 1)
        // Seen once it loses only 0.7 and still leads.
        #expect(s.sample([2.0, 1.0, 0.5], history: [0]) == 0)
        // A negative penalty encourages repetition.
        p.presencePenalty = -2
        p.frequencyPenalty = 0
        var t = Sampler(p)
        #expect(t.sample([2.0, 1.0, 0.5], history: [2]) == 2)
    }
}
