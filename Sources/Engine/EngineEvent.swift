import Model

public typealias RequestID = Int

/// What a step reports for a request.
public enum EngineEvent: Sendable, Equatable {
    /// The `index`-th generated token.
    case token(RequestID, index: Int, TokenID)
    case finished(RequestID, Completion)
}

public enum FinishReason: String, Sendable, Equatable {
    /// End-of-sequence (or, later, a stop string).
    case stop
    /// `maxTokens` reached.
    case length
    /// Cancelled by the caller (its client went away).
    case cancelled
}

/// The end of a request.
public struct Completion: Sendable, Equatable {
    public var reason: FinishReason
    /// Generated tokens, end-of-sequence excluded.
    public var tokens: [TokenID]
    /// Tokens of the session's history before this turn.
    public var historyTokens: Int = 0
    /// Tokens of this turn's prompt.
    public var promptTokens: Int
    /// Tokens of history and prompt whose keys and values were found resident.
    public var cachedTokens: Int
}
