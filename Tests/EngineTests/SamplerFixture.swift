import Foundation
import Engine
import Model
import TestSupport

/// Tests/EngineTests/Fixtures/sampler-reference.json: the reference
/// sampler's candidates for cases of logits, history and parameters
/// (scripts/fixtures/make_sampler_fixtures.py, reference_sampler.py).
struct SamplerFixture: Decodable {
    struct Parameters: Decodable {
        let temperature: Double
        let top_k: Int
        let top_p: Double
        let min_p: Double
        let repeat_penalty: Double
        let presence_penalty: Double
        let frequency_penalty: Double
    }

    struct Case: Decodable {
        let name: String
        /// float32 values written as the doubles they widen to.
        let logits: [Double]
        let history: [TokenID]
        let parameters: Parameters
        /// Most likely first; ties lowest id first.
        let ids: [TokenID]
        let probabilities: [Double]

        var floatLogits: [Float] { logits.map(Float.init) }

        func sampling(seed: UInt64? = nil) -> SamplingParameters {
            var s = SamplingParameters()
            s.temperature = Float(parameters.temperature)
            s.topK = parameters.top_k
            s.topP = Float(parameters.top_p)
            s.minP = Float(parameters.min_p)
            s.repeatPenalty = Float(parameters.repeat_penalty)
            s.presencePenalty = Float(parameters.presence_penalty)
            s.frequencyPenalty = Float(parameters.frequency_penalty)
            s.seed = seed
            return s
        }
    }

    struct ChiSquare: Decodable {
        let false_alarm: Double
        /// [degrees of freedom, x] with P(chi-square > x) = false_alarm, from scipy.
        let quantiles: [[Double]]
    }

    let chi_square: ChiSquare
    let cases: [Case]

    static let path = DefaultModel.repositoryRoot.appendingPathComponent("Tests/EngineTests/Fixtures/sampler-reference.json")

    static let loaded: Result<SamplerFixture, Error> = Result {
        try JSONDecoder().decode(SamplerFixture.self, from: Data(contentsOf: path))
    }

    /// Case names, for parameterized tests (none if the fixture does not
    /// load; `theFixtureLoads` says why).
    static var caseNames: [String] { (try? loaded.get().cases.map(\.name)) ?? [] }

    static func named(_ name: String) throws -> Case {
        guard let found = try loaded.get().cases.first(where: { $0.name == name }) else { throw Missing(name: name) }
        return found
    }

    struct Missing: Error { let name: String }
}
