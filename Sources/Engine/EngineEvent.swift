import Foundation
import KVCache
import Model

public typealias RequestID = Int

/// What a step reports for a request.
public enum EngineEvent: Sendable, Equatable {
    /// The `index`-th generated token, with its log-probabilities when the
    /// request asked for them.
    case token(RequestID, index: Int, TokenID, logprobs: TokenLogprobs? = nil)
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

/// A sampled token's log-probability under the model (the log-softmax of
/// its logits, before penalties and temperature) and the most likely tokens.
public struct TokenLogprobs: Sendable, Equatable {
    public var logprob: Float
    /// The `topLogprobs` most likely tokens, most likely first (ties: lowest id).
    public var top: [(token: TokenID, logprob: Float)]

    public init(logprob: Float, top: [(token: TokenID, logprob: Float)]) {
        self.logprob = logprob
        self.top = top
    }

    public static func == (a: TokenLogprobs, b: TokenLogprobs) -> Bool {
        a.logprob == b.logprob && a.top.elementsEqual(b.top) { $0.token == $1.token && $0.logprob == $1.logprob }
    }

    /// Log-probabilities of `token` and the `count` most likely tokens.
    public init(logits: [Float], token: TokenID, count: Int) {
        let top = logits.max() ?? 0
        var total: Double = 0
        for l in logits { total += Double(expf(l - top)) }
        let logTotal = Float(log(total)) + top
        logprob = logits[Int(token)] - logTotal
        var best: [(token: TokenID, logprob: Float)] = []
        if count > 0 {
            for (i, l) in logits.enumerated() where best.count < count || l > best[best.count - 1].logprob + logTotal {
                let entry = (token: TokenID(i), logprob: l - logTotal)
                let at = best.firstIndex { $0.logprob < entry.logprob } ?? best.count
                best.insert(entry, at: at)
                if best.count > count { best.removeLast() }
            }
        }
        self.top = best
    }
}

/// The end of a request.
public struct Completion: Sendable, Equatable {
    public var reason: FinishReason
    /// Generated tokens, the one that ended the reply excluded.
    public var tokens: [TokenID]
    /// The end-of-generation token that ended the reply, if one did (it
    /// belongs to the conversation's history, not to the reply's text).
    public var stopToken: TokenID? = nil
    /// Tokens of the session's history before this turn (for a turn that
    /// reconciles a whole conversation, the part of the history it kept).
    public var historyTokens: Int = 0
    /// Tokens of this turn's prompt (what it added after that history).
    public var promptTokens: Int
    /// Tokens of history and prompt whose keys and values were found cached
    /// (in RAM, or read back from the disk tier).
    public var cachedTokens: Int
    /// Of `cachedTokens`, those read back from the disk tier.
    public var diskCachedTokens: Int = 0
    /// The session as the turn left it, when the turn was kept in one (what
    /// must be made durable).
    public var session: SessionStore.Session?
    /// From its submission to the step that began computing it (first
    /// admission: a preempted request's later waits are not counted).
    public var queueSeconds: Double = 0
    /// Tokens speculation drafted for the reply, and of them the ones accepted.
    public var draftedTokens = 0
    public var acceptedTokens = 0
}
