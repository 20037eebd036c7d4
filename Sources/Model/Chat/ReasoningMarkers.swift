import Foundation

/// The markup a reasoning model writes its reasoning between, as its chat
/// template declares it: `<think>` and `</think>` (Qwen3, QwQ, the
/// DeepSeek-R1 distills, SmolLM3...), or gpt-oss's analysis channel. A
/// template that writes a kind's markers has them.
public struct ReasoningMarkers: Sendable, Equatable {
    public let opening: String
    public let closing: String
    /// What the model writes between the block and its answer, dropped
    /// with it: the separator a budget's forced end writes, and a header
    /// that opens the answer (gpt-oss's final channel).
    public let answerOpening: String

    public init(opening: String, closing: String, answerOpening: String = "") {
        self.opening = opening
        self.closing = closing
        self.answerOpening = answerOpening
    }

    public static let think = ReasoningMarkers(opening: "<think>", closing: "</think>")
    /// gpt-oss (harmony): reasoning in the analysis channel, the answer in the final one.
    public static let analysisChannel = ReasoningMarkers(opening: "<|channel|>analysis<|message|>", closing: "<|end|>",
                                                         answerOpening: "<|start|>assistant<|channel|>final<|message|>")

    /// The markers `template` writes or reads, if any.
    public init?(_ template: ChatTemplate) {
        let known = [Self.think, Self.analysisChannel]
        guard let found = known.first(where: { template.source.contains($0.opening) && template.source.contains($0.closing)
                                               && ($0.answerOpening.isEmpty || template.source.contains($0.answerOpening)) }) else {
            return nil
        }
        self = found
    }

    /// What a budget writes to end the block: the closing marker, then the
    /// answer's header or a blank line.
    public var forcedEnd: String { closing + (answerOpening.isEmpty ? "\n\n" : answerOpening) }

    /// Whether a rendered prompt leaves a block open for the reply: its
    /// generation prompt (the markup after the last message) opens one it
    /// does not close (QwQ and the R1 distills write `<think>\n`).
    public func opensBlock(_ prompt: PromptText) -> Bool {
        var tail = ""
        for piece in prompt.pieces.reversed() {
            guard case let .markup(s) = piece else { break }
            tail = s + tail
        }
        guard let open = tail.range(of: opening, options: .backwards) else { return false }
        return tail[open.upperBound...].range(of: closing) == nil
    }
}

extension PromptText {
    /// The pieces up to the end of message `index`'s content, then
    /// `endOfTurn` when the markup after it begins so; nil when the message
    /// has no content piece.
    public func throughTurn(of index: Int, endOfTurn: String) -> PromptText? {
        guard let last = pieces.lastIndex(where: { if case .content(_, index) = $0 { true } else { false } }) else { return nil }
        var out = Array(pieces[...last])
        if !endOfTurn.isEmpty, last + 1 < pieces.count, case let .markup(next) = pieces[last + 1], next.hasPrefix(endOfTurn) {
            out.append(.markup(endOfTurn))
        }
        return PromptText(out)
    }
}
