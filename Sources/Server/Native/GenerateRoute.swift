import Engine
import Foundation
import HTTPServer
import JSONTree
import Model
import Storage
import StructuredOutput

/// `POST /v1/generate`: validates, tokenizes, submits to the engine and
/// streams its events back as server-sent events (or one JSON object). A
/// session's later turns send only what is new.
struct GenerateRoute: Sendable {
    let serving: Serving

    func handle(_ request: HTTPRequest, _ responder: Responder, tenant: Tenant) {
        let stages = RequestStages()
        var parameters: GenerateParameters
        do {
            parameters = try GenerateParameters(json: request.body)
            parameters.sessionID = try SessionKey.resolve(header: request.headers["X-Session-Id"], body: parameters.sessionID)
        } catch let error as GenerateParameters.Invalid {
            return responder.send(.error(400, error.message))
        } catch {
            return responder.send(.error(400, (error as? SessionKey.Invalid)?.message ?? "\(error)"))
        }
        var constraint: OutputConstraint?
        if let schema = parameters.jsonSchema {
            do { constraint = try serving.model.schemaMasks.caches.constraint(schema: schema) } catch {
                return responder.send(.error(400, "json_schema: \(error.description)"))
            }
        }
        let key = parameters.sessionID.map(tenant.sessionKey)
        var stored: StoredSession?
        stages.end(.parse)
        if let key {
            do throws(StoreUnavailable) { stored = try serving.storedSession(key) } catch { return responder.send(.storeUnavailable(error)) }
        }
        stages.end(.storeRead)
        var prompts = Prompts(model: serving.model, replies: serving.replies, tenant: tenant, stages: stages)
        prompts.variables = parameters.templateVariables
        // The prompt depends on the history it follows; the engine refuses
        // it (409) if another turn changes that history first.
        let history = key.flatMap { serving.service.session($0, syncing: stored) }
        stages.end(.queueWait)
        let lastToken = history?.lastToken
        let prompt: [TokenID]
        var opensReasoning = false
        var followUp: FollowUp?
        switch parameters.input {
        case .prompt(let text): prompt = prompts.text(text, atStart: lastToken == nil)
        case .messages(let messages):
            do {
                let rendered = try prompts.continuationPrompt(messages, after: lastToken)
                prompt = rendered.ids
                opensReasoning = rendered.opensReasoning
            } catch {
                return responder.send(.error(400, error.message))
            }
            // A session keeps its turns as its next request renders them (the
            // client reads the whole reply, reasoning included, and sends none of it back).
            if key != nil {
                followUp = FollowUp(prompts: prompts, messages: messages, tools: nil, history: .session,
                                    separatesReasoning: true, opensReasoning: opensReasoning)
            }
        }
        var generation = GenerationRequest(prompt: prompt, sessionID: key, maxTokens: parameters.maxTokens,
                                           sampling: parameters.sampling, ignoreEOS: parameters.ignoreEOS)
        generation.constraint = constraint
        generation.history = .append(expecting: history?.tokenCount ?? 0)
        generation.cacheSalt = tenant.cacheSalt
        var reasoning = ReasoningOptions()
        reasoning.budget = parameters.maxReasoningTokens.map { $0 < 0 ? nil : $0 } ?? serving.model.reasoningBudget
        generation.reasoningBudget = reasoning.engineBudget(model: serving.model, opensReasoning: opensReasoning)
        let output = NativeOutput(responder: responder, stream: parameters.stream, sessionID: parameters.sessionID)
        let turn = Turn(serving.turnContext(route: "generate", tenant: tenant, sessionID: parameters.sessionID,
                                            stop: parameters.stop, stages: stages, followUp: followUp), output: output)
        turn.run(generation, maxWaiting: serving.maxWaiting, responder: responder)
    }

    static func response(for error: AdmissionError) -> HTTPResponse {
        switch error {
        case .emptyPrompt, .constraintNeedsTokens, .constraintIgnoresEnd: return .error(400, error.description)
        case .beyondContext, .beyondPool, .session(.tooLong): return .error(422, error.description)
        case .session(.busy), .session(.changed): return .error(409, error.description, type: "conflict")
        case .session(.full), .queueFull:
            var headers = HTTPHeaders()
            headers.add(name: "Retry-After", value: "1")
            return .error(503, error.description, headers: headers)
        }
    }
}

extension HTTPResponse {
    /// A session route while the shared session store is unreachable.
    static func storeUnavailable(_ error: StoreUnavailable) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Retry-After", value: "1")
        return .error(503, error.message, type: "store_unavailable", headers: headers)
    }
}

/// The native answer: `token` events and a `done` event, or the `done`
/// object alone when not streaming (docs/api.md, "Native").
final class NativeOutput: TurnOutput {
    let responder: Responder
    let streaming: Bool
    let sessionID: String?
    private(set) var stream: ResponseStream?

    init(responder: Responder, stream: Bool, sessionID: String?) {
        self.responder = responder
        streaming = stream
        self.sessionID = sessionID
    }

    func start() {
        if streaming { stream = responder.eventStream() }
    }

    func token(index: Int, id: TokenID, text: String, logprobs: TokenLogprobs?) {
        stream?.write(ServerSentEvent(event: "token", data: (["index": JSON(index), "id": JSON(id), "text": JSON(text)] as JSON).serialized))
    }

    func finish(_ end: TurnEnd) {
        let c = end.completion, t = end.timings
        var usage = c.cacheSplit
        usage["prompt_tokens"] = JSON(c.promptTokens)
        usage["completion_tokens"] = JSON(c.tokens.count)
        usage["accepted_prediction_tokens"] = JSON(c.acceptedTokens)
        var done: JSON = [
            "finish_reason": JSON(c.reason.rawValue),
            "text": JSON(end.text),
            "usage": usage,
            "timings": ["ttft_ms": JSON(t.ttftMilliseconds), "prefill_tokens_per_s": JSON(t.prefillTokensPerSecond),
                        "decode_tokens_per_s": JSON(t.decodeTokensPerSecond)],
        ]
        if let sessionID { done["session_id"] = JSON(sessionID) }
        if let stream {
            stream.write(ServerSentEvent(event: "done", data: done.serialized))
            stream.finish()
        } else {
            responder.send(.json(done))
        }
    }

    func refuse(_ error: AdmissionError) {
        responder.send(GenerateRoute.response(for: error))
    }

    func fail(_ failure: TurnFailure) {
        if let stream {
            let error: JSON = ["error": ["message": JSON(failure.message), "type": JSON(failure.code)]]
            stream.write(ServerSentEvent(event: "error", data: error.serialized))
            stream.finish()
        } else {
            responder.send(.error(failure.status, failure.message, type: failure.code))
        }
    }
}
