import Foundation
import Testing
@testable import Engine
import Model

/// The sampler against an independent reference (scripts/fixtures/
/// reference_sampler.py, numpy, written from the definitions): the same
/// candidates, in the same order, with the same probabilities, and draws
/// that follow those probabilities.
@Suite struct SamplerReferenceTests {
    @Test func theFixtureLoads() throws {
        let fixture = try SamplerFixture.loaded.get()
        #expect(fixture.cases.count >= 60)
    }

    /// The candidate set exactly (ids and their order), the probabilities to
    /// float32 precision: the fixture keeps every boundary either exact or
    /// at least 3e-5 away, beyond what float32 rounding can move.
    @Test(arguments: SamplerFixture.caseNames)
    func candidatesAreTheReferences(_ name: String) throws {
        let c = try SamplerFixture.named(name)
        let candidates = c.sampling().candidates(c.floatLogits, history: c.history)
        #expect(candidates.ids == c.ids)
        try #require(candidates.probabilities.count == c.probabilities.count)
        for (i, (p, reference)) in zip(candidates.probabilities, c.probabilities).enumerated() {
            #expect(abs(Double(p) - reference) <= 1e-6 + 1e-4 * reference, "candidate \(i), id \(c.ids[i])")
        }
    }

    /// Draws per case: enough that every candidate above 1e-4 expects a
    /// couple of draws, and the chi-square test sees a shift of a few
    /// percent in a likely one.
    static let draws = 20_000
    /// Chance that a correct sampler fails a case: the chi-square statistic
    /// lands beyond its 1 - 1e-6 quantile. Over the 65 cases, at most 6.5e-5
    /// (Bonferroni); the seeds are fixed, so a run that passes always will.
    static let falseAlarm = 1e-6

    /// Draws through `sample`, seeded per case: none outside the reference's
    /// candidates, and their counts consistent with its probabilities
    /// (Pearson's chi-square at a false-alarm rate of 1e-6).
    @Test(arguments: SamplerFixture.caseNames)
    func drawsFollowTheReferenceProbabilities(_ name: String) throws {
        let fixture = try SamplerFixture.loaded.get()
        let c = try SamplerFixture.named(name)
        let index = try #require(fixture.cases.firstIndex { $0.name == name })
        // A sampler that cannot make the reference's candidates fails the
        // test above; drawing from it says nothing more (and from none, crashes).
        try #require(c.sampling().candidates(c.floatLogits, history: c.history).ids == c.ids)
        var sampler = Sampler(c.sampling(seed: 0x5EED_0000 + UInt64(index)))
        Self.expectDraws(of: c, "") { sampler.sample(c.floatLogits, history: c.history) }
    }

    /// `draws` tokens from `draw`: none outside case `c`'s candidates, and
    /// their counts consistent with its probabilities.
    static func expectDraws(of c: SamplerFixture.Case, _ label: String, _ draw: () -> TokenID) {
        let position = Dictionary(uniqueKeysWithValues: c.ids.enumerated().map { ($1, $0) })
        var counts = [Int](repeating: 0, count: c.ids.count), outside: [TokenID: Int] = [:]
        for _ in 0..<draws {
            let token = draw()
            if let i = position[token] { counts[i] += 1 } else { outside[token, default: 0] += 1 }
        }
        #expect(outside.isEmpty, "\(label)drew tokens the reference excludes: \(outside)")
        let (statistic, degrees) = ChiSquare.statistic(counts: counts, probabilities: c.probabilities, draws: draws)
        guard degrees > 0 else { return }
        let tail = ChiSquare.tail(statistic, degrees: degrees)
        #expect(tail >= falseAlarm, "\(label)chi-square \(statistic) with \(degrees) degrees of freedom: p = \(tail); counts \(counts)")
    }

    /// Speculative sampling's rule (`sample(_:history:draft:)`) against
    /// the same reference: whatever the drafted token (the most likely, one
    /// further down, one the candidates exclude), the tokens it gives
    /// follow the reference probabilities.
    @Test(arguments: SamplerFixture.caseNames)
    func draftedDrawsFollowTheReferenceProbabilities(_ name: String) throws {
        let fixture = try SamplerFixture.loaded.get()
        let c = try SamplerFixture.named(name)
        let index = try #require(fixture.cases.firstIndex { $0.name == name })
        try #require(c.sampling().candidates(c.floatLogits, history: c.history).ids == c.ids)
        let excluded = (0..<TokenID(c.logits.count)).first { !c.ids.contains($0) }
        for (d, draft) in ([c.ids[0], c.ids[c.ids.count / 2]] + [excluded].compactMap { $0 }).enumerated() {
            var sampler = Sampler(c.sampling(seed: 0xD4AF_0000 + UInt64(index * 4 + d)))
            Self.expectDraws(of: c, "draft \(draft): ") { sampler.sample(c.floatLogits, history: c.history, draft: draft) }
        }
    }

    /// The test's chi-square tail at scipy's 1e-6 quantiles is 1e-6.
    @Test func chiSquareTailAgreesWithScipy() throws {
        let chi = try SamplerFixture.loaded.get().chi_square
        #expect(chi.false_alarm == Self.falseAlarm)
        for q in chi.quantiles {
            let tail = ChiSquare.tail(q[1], degrees: Int(q[0]))
            #expect(abs(tail - chi.false_alarm) <= 1e-3 * chi.false_alarm, "\(Int(q[0])) degrees of freedom: \(tail)")
        }
        // Closed forms: with 2 degrees of freedom the tail is exp(-x/2).
        for x in [0.5, 2.0, 7.0, 30.0] { #expect(abs(ChiSquare.tail(x, degrees: 2) - exp(-x / 2)) <= 1e-12) }
    }
}
