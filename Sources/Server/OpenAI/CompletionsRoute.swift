import Engine
import Foundation
import HTTPServer
import JSONTree
import Model

/// `POST /v1/completions`: a text prompt (or token ids) continued as it is,
/// for tools and evaluation harnesses. Text is never parsed for control
/// tokens. With a session key the prompt is the whole text so far, as on
/// the chat route.
struct CompletionsRoute: Sendable {
    let serving: Serving

    func handle(_ request: HTTPRequest, _ responder: Responder, tenant: Tenant) {
        let stages = RequestStages()
        do throws(OpenAIError) {
            let fields = try OpenAIFields(body: request.body)
            try fields.requireOneChoice()
            try fields.refuse(["echo", "suffix", "logit_bias"])
            let sessionID = try fields.sessionID(header: request.headers["X-Session-Id"])
            stages.end(.parse)
            let stored = try serving.storedSession(sessionID, tenant: tenant)
            stages.end(.storeRead)
            let prompt = try promptTokens(fields["prompt"], tenant: tenant, stages: stages)
            let logprobs = try fields.integer("logprobs", 0...5)
            var generation = try fields.generation(prompt, maxTokenKeys: ["max_tokens"], sessionID: sessionID, tenant: tenant,
                                                   model: serving.model)
            generation.topLogprobs = logprobs
            let output = CompletionOutput(responder: responder, model: serving.model, stream: try fields.bool("stream") ?? false,
                                          includeUsage: fields.includeUsage, logprobs: logprobs != nil)
            Turn(serving.turnContext(route: "completions", tenant: tenant, sessionID: sessionID, stop: try fields.stop(),
                                     storedSession: stored, stages: stages),
                 output: output).run(generation, maxWaiting: serving.maxWaiting, responder: responder)
        } catch {
            responder.send(error.response())
        }
    }

    /// `prompt`: a string, one string in an array, or an array of token ids.
    private func promptTokens(_ value: JSON?, tenant: Tenant, stages: RequestStages) throws(OpenAIError) -> [TokenID] {
        let prompts = Prompts(model: serving.model, replies: serving.replies, tenant: tenant, stages: stages)
        switch value {
        case .string(let s)?:
            guard !s.isEmpty else { throw .invalid("prompt must not be empty", param: "prompt") }
            return prompts.text(s, atStart: true)
        case .array(let items)? where items.count == 1:
            if case .string(let s) = items[0] { return try promptTokens(.string(s), tenant: tenant, stages: stages) }
            fallthrough
        case .array(let items)? where !items.isEmpty:
            let vocabulary = serving.model.tokenizer.vocabulary
            return try items.map { item throws(OpenAIError) -> TokenID in
                guard let id = item.intValue, id >= 0, id < Int(Int32.max), vocabulary.contains(TokenID(id)) else {
                    throw .invalid("prompt must be a string, one string in an array, or an array of token ids of this model's vocabulary",
                                   param: "prompt")
                }
                return TokenID(id)
            }
        case nil: throw .invalid("prompt is required", param: "prompt")
        default: throw .invalid("prompt must be a string, one string in an array, or an array of token ids (one prompt per request)",
                                param: "prompt")
        }
    }
}

/// A text completion: `text_completion` chunks ending with `data: [DONE]`,
/// or one `text_completion` object.
final class CompletionOutput: OpenAIOutput {
    let responder: Responder
    let model: ServedModel
    let streaming: Bool
    let includeUsage: Bool
    let logprobs: LogprobWriter?
    private let id = OpenAIID.make("cmpl-")
    private let created = OpenAIID.now
    private(set) var stream: ResponseStream?
    private var tokens: [(TokenID, TokenLogprobs)] = []
    private var textOffset = 0

    init(responder: Responder, model: ServedModel, stream: Bool, includeUsage: Bool, logprobs: Bool) {
        self.responder = responder
        self.model = model
        streaming = stream
        self.includeUsage = includeUsage
        self.logprobs = logprobs ? LogprobWriter(tokenizer: model.tokenizer) : nil
    }

    private func object(_ choices: [JSON], usage: JSON?) -> JSON {
        var object: JSON = ["id": JSON(id), "object": "text_completion", "created": JSON(created), "model": JSON(model.name),
                            "choices": .array(choices)]
        if let usage { object["usage"] = usage } else if includeUsage { object["usage"] = .null }
        return object
    }

    private func choice(_ text: String, logprobs: JSON?, finish: String?) -> JSON {
        ["index": 0, "text": JSON(text), "logprobs": logprobs ?? .null, "finish_reason": finish.map { JSON($0) } ?? .null]
    }

    func start() {
        if streaming { stream = responder.eventStream() }
    }

    func token(index: Int, id: TokenID, text: String, logprobs lp: TokenLogprobs?) {
        if let lp, logprobs != nil { tokens.append((id, lp)) }
        guard let stream, !text.isEmpty || lp != nil else { return }
        let entry = lp.flatMap { lp in logprobs?.completionLogprobs([(id, lp)], offset: textOffset) }
        textOffset += text.utf8.count
        stream.write(ServerSentEvent(data: object([choice(text, logprobs: entry, finish: nil)], usage: nil).serialized))
    }

    func finish(_ end: TurnEnd) {
        guard end.completion.reason != .cancelled else { stream?.finish(); return }
        let reason = end.completion.reason == .length ? "length" : "stop"
        var usage = ChatCompletionOutput.usage(end)
        usage["completion_tokens_details"] = nil
        if let stream {
            stream.write(ServerSentEvent(data: object([choice("", logprobs: nil, finish: reason)], usage: nil).serialized))
            if includeUsage { stream.write(ServerSentEvent(data: object([], usage: usage).serialized)) }
            stream.write(ServerSentEvent(data: "[DONE]"))
            stream.finish()
        } else {
            let lp = logprobs?.completionLogprobs(tokens, offset: 0)
            responder.send(.json(object([choice(end.text, logprobs: lp, finish: reason)], usage: usage)))
        }
    }
}
