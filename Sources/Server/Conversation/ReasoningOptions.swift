import Engine
import JSONTree
import Model

/// What a chat request asks of the template and of the reply's reasoning:
/// template variables (`chat_template_kwargs`, and `reasoning_effort` for
/// templates that read it), whether reasoning is returned apart from the
/// answer, and how many tokens it may take.
struct ReasoningOptions: Sendable {
    var variables: [String: JSON] = [:]
    /// false: `reasoning_format: "none"`, the reasoning stays in the text.
    var separate = true
    /// Reasoning tokens before the engine closes the block (nil: no limit).
    var budget: Int?

    static let formats: Set<String> = ["none", "auto", "deepseek", "parsed"]

    /// `reasoning_effort` as a template variable, unless the kwargs set it.
    mutating func setEffort(_ effort: String?) {
        if let effort, variables["reasoning_effort"] == nil { variables["reasoning_effort"] = JSON(effort) }
    }

    /// The engine's part: the budget, with the ids that close the block.
    func engineBudget(model: ServedModel, opensReasoning: Bool) -> ReasoningBudget? {
        guard let budget, let markers = model.reasoning else { return nil }
        let tokenizer = model.tokenizer
        let closing = tokenizer.encode(markers.forcedEnd, addSpecial: false, parseSpecial: true)
        guard !closing.isEmpty else { return nil }
        return ReasoningBudget(limit: budget, opening: markers.opening, closing: markers.closing, closingTokens: closing,
                               startsInside: opensReasoning, bytes: { tokenizer.decodeBytes([$0]) })
    }

    /// A splitter for the reply, when its reasoning is returned apart.
    func splitter(model: ServedModel, opensReasoning: Bool) -> ReasoningSplitter? {
        guard separate, let markers = model.reasoning else { return nil }
        return ReasoningSplitter(markers: markers, startsInside: opensReasoning)
    }
}
