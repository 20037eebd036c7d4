import Engine
import Foundation
import HTTPServer
import JSONTree
import Logging
import Model

/// How a route writes one turn's answer: the native events, OpenAI's chunks,
/// or the Responses API's events. Called in order, never concurrently.
protocol TurnOutput: AnyObject {
    /// The engine accepted the request (a stream's head goes out now).
    func start()
    /// Token `index` was generated; `text` is what it released (empty while
    /// text that may begin a stop string is held back).
    func token(index: Int, id: TokenID, text: String, logprobs: TokenLogprobs?)
    /// The turn ended: `text` is the whole reply.
    func finish(_ end: TurnEnd)
    /// The engine refused the request before it ran.
    func refuse(_ error: AdmissionError)
    /// The turn was not kept (the server is shutting down, or the shared
    /// session store refused or could not take it). The client must be
    /// told, not cut off.
    func fail(_ failure: TurnFailure)
}

/// Why a turn that ran was not kept, as the client is told.
struct TurnFailure {
    let status: Int
    /// The error's type (native) or code (OpenAI).
    let code: String
    let message: String

    static func shutdown(after tokens: Int) -> TurnFailure {
        TurnFailure(status: 503, code: "shutting_down", message: "the server is shutting down and ended this turn after "
                    + "\(tokens) tokens; nothing of it was kept: send it again")
    }
    static let conflict = TurnFailure(status: 409, code: "conflict", message: "another turn of this session was committed "
                                      + "first (on another replica); this reply was not kept: read the session and send the turn again")
    static func storeUnavailable(_ message: String) -> TurnFailure {
        TurnFailure(status: 503, code: "store_unavailable", message: message + "; this reply was not kept: send the turn again")
    }
}

/// A finished turn, as every output format needs it.
struct TurnEnd {
    let completion: Completion
    let text: String
    let timings: Timings
    /// The conversation's ids through this turn as its next request renders
    /// them, where they differ from the ones computed (nil: they do not).
    var followUp: [TokenID]? = nil
    /// Everything the model saw: the history kept and the prompt.
    var inputTokens: Int { completion.historyTokens + completion.promptTokens }
}

/// One request's life in the engine, shared by every route: turns engine
/// events into text (incremental detokenizer, stop strings), records the
/// metrics and the log line, remembers the reply's exact ids for the next
/// request that sends it back, and hands everything to the route's output.
///
/// The engine thread only hands events on: everything else runs on the
/// turn's own serial queue (suspended until the engine has accepted the
/// request and the output has started), so presentation never delays a
/// step and a turn's events are handled in order, one at a time.
final class Turn: @unchecked Sendable {
    struct Context {
        let route: String
        let tenant: Tenant
        let sessionID: String?
        /// The engine's (tenant-qualified) name of the session.
        var sessionKey: String? { sessionID.map(tenant.sessionKey) }
        let stop: [String]
        let model: ServedModel
        let service: EngineService
        let metrics: ServerMetrics
        let logger: Logger
        let replies: GeneratedReplies
        let shutdown: ShutdownState
        let durability: Durability
        /// The shared store's copy of the session, made the engine's in the
        /// same engine visit that admits the turn.
        var storedSession: StoredSession? = nil
        /// The request's time to first token, stage by stage, from its arrival at the route.
        let stages: RequestStages
        /// How the conversation renders in its next request (nil: not a chat turn).
        var followUp: FollowUp? = nil
        /// Whether the follow-up is prefilled when idle (off only in tests).
        var prefillsFollowUps = true
    }

    private let context: Context
    private let output: TurnOutput
    private let queue = DispatchQueue(label: "kvserve.turn")
    // The rest is the queue's alone.
    private var detokenizer: IncrementalDetokenizer
    private var filter: StopStringFilter
    private var text = ""
    /// Generated tokens the reply keeps once a stop string was found in them.
    private var stoppedAt: Int?
    /// Uptime nanoseconds: the request's arrival at the route, its submission
    /// to the engine, its first token (on the engine thread) and that
    /// token's write to the client.
    private var started: UInt64 { context.stages.started }
    private var submitted: UInt64 = 0
    private var firstToken: UInt64?
    private var firstWritten: UInt64?
    private var lastToken: UInt64?
    private var id: RequestID?
    /// What the request asked for, once submitted.
    private var request: GenerationRequest?

    init(_ context: Context, output: TurnOutput) {
        self.context = context
        self.output = output
        detokenizer = IncrementalDetokenizer(tokenizer: context.model.tokenizer)
        filter = StopStringFilter(stops: context.stop)
    }

    /// Submits `request` and answers through the output: its refusal, or
    /// its stream. A client that goes away cancels the request.
    func run(_ request: GenerationRequest, maxWaiting: Int, responder: Responder) {
        // A schema decides where a constrained reply ends: a stop string
        // inside the value would cut it into something that does not parse.
        if request.constraint != nil { filter = StopStringFilter(stops: []) }
        self.request = request
        queue.suspend()
        context.stages.end(.parse)
        submitted = DispatchTime.now().uptimeNanoseconds
        let result = context.service.submit(request, maxWaiting: maxWaiting, syncing: context.storedSession) { [self] event in
            // On the engine thread: the time it happened, and hand it on.
            let now = DispatchTime.now().uptimeNanoseconds
            queue.async { self.handle(event, at: now) }
        }
        switch result {
        case .failure(let error):
            output.refuse(error)
        case .success(let id):
            self.id = id
            output.start()
            responder.onClose { [service = context.service] in service.cancel(id) }
        }
        queue.resume()
    }

    private func handle(_ event: EngineEvent, at now: UInt64) {
        switch event {
        case let .token(_, index, token, logprobs):
            guard stoppedAt == nil else { return }
            if firstToken == nil {
                firstToken = now
                context.metrics.timeToFirstToken.recordNanoseconds(Int64(now - started))
            } else if let lastToken {
                context.metrics.interTokenLatency.recordNanoseconds(Int64(now - lastToken))
            }
            lastToken = now
            let piece: String
            switch filter.append(detokenizer.append(token)) {
            case .text(let t): piece = t
            case .stopped(let t):
                piece = t
                stoppedAt = index + 1
                if let id { context.service.stop(id, keeping: index + 1) }
            }
            text += piece
            output.token(index: index, id: token, text: piece, logprobs: logprobs)
            if firstWritten == nil { firstWritten = DispatchTime.now().uptimeNanoseconds }
        case let .finished(_, engineCompletion):
            var completion = engineCompletion
            if stoppedAt == nil {
                switch filter.append(detokenizer.finish()) {
                case .text(let t): text += t + filter.finish()
                case .stopped(let t): text += t; stoppedAt = completion.tokens.count
                }
            } else if let keep = stoppedAt {
                cut(&completion, keeping: keep)
            }
            let metrics = context.metrics
            metrics.generatedTokens.increment(by: Int64(completion.tokens.count))
            metrics.cachedTokens.increment(by: Int64(completion.cachedTokens))
            metrics.draftTokens.increment(by: Int64(completion.draftedTokens))
            metrics.acceptedTokens.increment(by: Int64(completion.acceptedTokens))
            metrics.prefillTokens.increment(by: Int64(max(0, completion.historyTokens + completion.promptTokens - completion.cachedTokens)))
            // Only a reply whose text is exactly its ids can stand in for them.
            if completion.reason != .cancelled, context.model.tokenizer.decode(completion.tokens, special: false) == text {
                context.replies.record(text, ids: completion.tokens, tenant: context.tenant)
            }
            let timings = Timings(completion, started: started, firstToken: firstToken)
            recordStages(completion)
            context.logger.info("generate", metadata: [
                "route": "\(context.route)",
                "session": "\(context.sessionID ?? "-")", "history_tokens": "\(completion.historyTokens)",
                "prompt_tokens": "\(completion.promptTokens)", "cached_tokens": "\(completion.cachedTokens)",
                "generated_tokens": "\(completion.tokens.count)", "finish": "\(completion.reason.rawValue)",
                "ttft_ms": "\(String(format: "%.1f", timings.ttftMilliseconds))",
                "decode_tokens_per_s": "\(String(format: "%.1f", timings.decodeTokensPerSecond))",
                "total_ms": "\(String(format: "%.1f", timings.totalMilliseconds))",
            ])
            let cutByShutdown = completion.reason == .cancelled && context.shutdown.isStopping
            if cutByShutdown {
                context.logger.warning("turn cut by shutdown", metadata: [
                    "route": "\(context.route)", "session": "\(context.sessionID ?? "-")",
                    "generated_tokens": "\(completion.tokens.count)",
                ])
                return output.fail(.shutdown(after: completion.tokens.count))
            }
            // The conversation as its next request renders it is the one kept;
            // making it resident is the engine's idle work.
            let rendered = followUp(completion)
            if let key = context.sessionKey, let session = completion.session, let ids = rendered {
                completion.session = context.service.rewriteSession(key, to: ids, expecting: session.tokens.count, salt: context.tenant.cacheSalt,
                                                                    prefill: context.prefillsFollowUps) ?? session
            } else if let ids = rendered, context.prefillsFollowUps {
                context.service.prefillWhenIdle(ids, salt: context.tenant.cacheSalt)
            }
            let end = TurnEnd(completion: completion, text: text, timings: timings, followUp: rendered)
            // A turn kept in a session answers once it is durable; others at once.
            guard let key = context.sessionKey, let session = completion.session else { return output.finish(end) }
            context.durability.afterSaving(session: key, session) { [self] outcome in
                queue.async { [self] in
                    switch outcome {
                    case .kept: output.finish(end)
                    case .conflict, .unavailable:
                        // This server's copy ran ahead of the store: drop it, so
                        // the next turn starts from the stored conversation.
                        context.service.forgetSession(key)
                        if case .unavailable(let message) = outcome { output.fail(.storeUnavailable(message)) } else { output.fail(.conflict) }
                    }
                }
            }
        }
    }

    /// The conversation through this turn as its next request renders it,
    /// when that differs from what was computed (a reasoning model's
    /// template drops the reply's reasoning, or its generation prompt's
    /// empty think block).
    private func followUp(_ completion: Completion) -> [TokenID]? {
        guard let followUp = context.followUp, let request, completion.reason != .cancelled else { return nil }
        let history: [TokenID]? = switch followUp.history {
        case .none: nil
        case .tokens(let ids): ids
        case .session: completion.historyTokens == 0 ? nil : completion.session.map { Array($0.tokens.prefix(completion.historyTokens)) }
        }
        guard let ids = followUp.ids(reply: text, closed: completion.stopToken != nil, history: history) else { return nil }
        let computed = completion.session?.tokens ?? (request.prompt + completion.tokens + [completion.stopToken].compactMap { $0 })
        return computed.starts(with: ids) ? nil : ids
    }

    /// The engine's part of the time to first token (its queue, the
    /// prefill) and the first write, with the route's stages, into the
    /// metrics and a debug line.
    private func recordStages(_ completion: Completion) {
        guard let firstToken, let firstWritten else { return }
        let stages = context.stages
        let sinceSubmit = Double(firstToken - min(firstToken, submitted)) / 1e9
        stages.add(.queueWait, seconds: min(completion.queueSeconds, sinceSubmit))
        stages.add(.prefill, seconds: sinceSubmit - min(completion.queueSeconds, sinceSubmit))
        stages.add(.firstWrite, seconds: Double(firstWritten - firstToken) / 1e9)
        context.metrics.record(stages)
        context.logger.debug("ttft", metadata: .init(uniqueKeysWithValues: RequestStages.Stage.allCases.map { stage in
            ("\(stage.rawValue)_ms", .string(String(format: "%.2f", (stages.seconds[stage] ?? 0) * 1000)))
        } + [("route", .string(context.route)), ("session", .string(context.sessionID ?? "-")),
             ("ttft_ms", .string(String(format: "%.2f", Double(firstWritten - started) / 1e6)))]))
    }

    /// A stop string was found in the first `keep` generated tokens, but
    /// the engine ended the turn before it heard so (at its token limit or
    /// its end of generation): the reply, and the session's history, end
    /// where the stop string did, as if the engine had stopped there. A
    /// cancelled turn stays cancelled: the engine rolled it back.
    private func cut(_ completion: inout Completion, keeping keep: Int) {
        guard completion.reason != .cancelled, completion.tokens.count > keep || completion.stopToken != nil else { return }
        let before = completion.historyTokens + completion.promptTokens
        let current = before + completion.tokens.count + (completion.stopToken == nil ? 0 : 1)
        completion.tokens.removeLast(max(0, completion.tokens.count - keep))
        completion.stopToken = nil
        completion.reason = .stop
        if let key = context.sessionKey, completion.session != nil {
            completion.session = context.service.cutSession(key, to: before + completion.tokens.count, expecting: current)
        }
    }
}

extension Completion {
    /// `cached_tokens` and, beside it, where those tokens' keys and values
    /// came from: the RAM pool or the disk tier (extra fields: a client that
    /// knows only `cached_tokens` sees the total).
    var cacheSplit: JSON {
        ["cached_tokens": JSON(cachedTokens), "cached_tokens_ram": JSON(cachedTokens - diskCachedTokens),
         "cached_tokens_disk": JSON(diskCachedTokens)]
    }
}
