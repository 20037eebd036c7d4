import Model

extension DecodeEngine {
    /// Runs several multi-turn conversations at once, as chat clients would:
    /// every session's first turn is submitted together, and each next turn
    /// as soon as the session's previous one ends. `turns[s][t]` is the
    /// prompt of turn t of session `"\(sessionPrefix)\(s)"`. Returns each
    /// turn's completion, in the same shape.
    public func converse(_ turns: [[[TokenID]]], sessionPrefix: String = "conversation-", maxTokens: Int,
                         sampling: SamplingParameters = .greedy) throws(AdmissionError) -> [[Completion]] {
        var completions: [[Completion]] = turns.map { _ in [] }
        var owner: [RequestID: Int] = [:]
        func submitNext(_ s: Int) throws(AdmissionError) {
            let t = completions[s].count
            guard t < turns[s].count else { return }
            let id = try submit(GenerationRequest(prompt: turns[s][t], sessionID: "\(sessionPrefix)\(s)",
                                                  maxTokens: maxTokens, sampling: sampling))
            owner[id] = s
        }
        for s in turns.indices { try submitNext(s) }
        while hasWork {
            for case let .finished(id, completion) in step() {
                let s = owner.removeValue(forKey: id)!
                completions[s].append(completion)
                try submitNext(s)
            }
        }
        return completions
    }
}

extension SamplingParameters {
    /// Temperature 0: the most likely token every time.
    public static var greedy: SamplingParameters {
        var p = SamplingParameters()
        p.temperature = 0
        return p
    }
}
