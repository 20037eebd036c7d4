import KVCache
import Model
import StructuredOutput

/// One turn to generate: the new prompt tokens, and how to sample the reply.
public struct GenerationRequest: Sendable {
    /// Tokens this turn adds (after the session's history, if any).
    public var prompt: [TokenID]
    /// The conversation the turn belongs to; nil for a stateless request.
    public var sessionID: String?
    public var maxTokens: Int
    public var sampling: SamplingParameters
    /// Keep generating past end-of-sequence until `maxTokens`.
    public var ignoreEOS: Bool
    /// How the prompt relates to the session's history.
    public var history: HistoryUse = .append(expecting: nil)
    /// The root of the prefix cache's chain hashes: requests find each
    /// other's cached blocks only under the same salt (a tenant's).
    public var cacheSalt: UInt64 = 0
    /// Report each token's log-probability and this many alternatives; nil: none.
    public var topLogprobs: Int?
    /// Constrains the generated tokens to a grammar (a JSON schema): each
    /// step's logits are masked before sampling. Only the reply goes through
    /// it; the history and the prompt do not.
    public var constraint: OutputConstraint?
    /// Ends the reply's reasoning block after so many tokens (nil: no limit).
    public var reasoningBudget: ReasoningBudget?

    public enum HistoryUse: Sendable, Equatable {
        /// The prompt follows the history. With `expecting`, the session
        /// must still hold that many tokens (the prompt was made for them).
        case append(expecting: Int?)
        /// The prompt is the whole conversation: the session keeps the
        /// longest common prefix of its history and the prompt (an edited or
        /// regenerated message diverges there) and the turn continues from it.
        case reconcile
    }

    public init(prompt: [TokenID], sessionID: String? = nil, maxTokens: Int = 256,
                sampling: SamplingParameters = SamplingParameters(), ignoreEOS: Bool = false) {
        self.prompt = prompt
        self.sessionID = sessionID
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.ignoreEOS = ignoreEOS
    }
}

/// Why a request was refused before it ran.
public enum AdmissionError: Error, Equatable, CustomStringConvertible {
    case emptyPrompt
    /// History + prompt + max_tokens is beyond the model's context.
    case beyondContext(tokens: Int, context: Int)
    /// Even alone, with every other sequence preempted, it would not fit the pool.
    case beyondPool(tokens: Int, poolTokens: Int)
    case session(SessionStore.Refusal)
    /// `max_waiting` requests already wait.
    case queueFull(limit: Int)
    /// The constraint's shortest output does not fit in max_tokens.
    case constraintNeedsTokens(needed: Int, maxTokens: Int)
    /// ignore_eos asks to go on past the end a schema constraint requires.
    case constraintIgnoresEnd

    public var description: String {
        switch self {
        case .emptyPrompt:
            return "the prompt has no tokens"
        case let .beyondContext(tokens, context):
            return "history, prompt and max_tokens come to \(tokens) tokens, beyond the model's context of \(context)"
        case let .beyondPool(tokens, poolTokens):
            return "history, prompt and max_tokens come to \(tokens) tokens, more than the whole KV cache holds (\(poolTokens) tokens; raise kv_cache_bytes)"
        case .session(let refusal):
            return refusal.description
        case .queueFull(let limit):
            return "the server is busy: \(limit) requests are already waiting (max_waiting); retry shortly"
        case let .constraintNeedsTokens(needed, maxTokens):
            return "the shortest output the schema allows takes \(needed) tokens, more than max_tokens (\(maxTokens))"
        case .constraintIgnoresEnd:
            return "ignore_eos cannot be combined with a schema constraint: the schema decides where the output ends"
        }
    }
}
