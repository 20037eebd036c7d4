import Engine
import Foundation
import HTTPServer
import JSONTree
import Model

/// `POST /v1/chat/completions`. `messages` is always the whole
/// conversation: stateless, the prefix cache finds what earlier turns
/// computed; with a session key, the engine reconciles the messages with
/// the session's history and continues from where they diverge.
struct ChatCompletionsRoute: Sendable {
    let serving: Serving

    func handle(_ request: HTTPRequest, _ responder: Responder, tenant: Tenant) {
        let stages = RequestStages()
        do throws(OpenAIError) {
            let fields = try OpenAIFields(body: request.body)
            try fields.requireOneChoice()
            try fields.refuse(["functions", "logit_bias", "audio"])
            let messages = try ChatMessages.parse(fields["messages"])
            let tools = try ToolRequest(fields, shape: .chatCompletions)
            let sessionID = try fields.sessionID(header: request.headers["X-Session-Id"])
            stages.end(.parse)
            let stored = try serving.storedSession(sessionID, tenant: tenant)
            stages.end(.storeRead)
            let topLogprobs = try fields.integer("top_logprobs", 0...20)
            let logprobs = try fields.bool("logprobs") ?? false
            if topLogprobs != nil && !logprobs { throw .invalid("top_logprobs needs logprobs: true", param: "top_logprobs") }
            let reasoning = try fields.reasoningOptions(effortPath: ["reasoning_effort"], defaultBudget: serving.model.reasoningBudget)
            var prompts = Prompts(model: serving.model, replies: serving.replies, tenant: tenant, stages: stages)
            prompts.variables = reasoning.variables
            let prompt = try prompts.conversation(messages, tools: tools, param: "messages")
            var generation = try fields.generation(prompt.ids, maxTokenKeys: ["max_completion_tokens", "max_tokens"], sessionID: sessionID,
                                                   tenant: tenant, model: serving.model)
            generation.topLogprobs = logprobs ? (topLogprobs ?? 0) : nil
            generation.constraint = try ResponseFormat.constraint(tools: tools, body: fields.body, path: ["response_format"],
                                                                  masks: serving.model.schemaMasks)
            generation.reasoningBudget = reasoning.engineBudget(model: serving.model, opensReasoning: prompt.opensReasoning)
            let output = ChatCompletionOutput(responder: responder, model: serving.model, stream: try fields.bool("stream") ?? false,
                                              includeUsage: fields.includeUsage, logprobs: logprobs, tools: tools,
                                              reasoning: reasoning.splitter(model: serving.model, opensReasoning: prompt.opensReasoning))
            let followUp = FollowUp(prompts: prompts, messages: messages, tools: tools.templateTools, history: .none,
                                    separatesReasoning: reasoning.separate, opensReasoning: prompt.opensReasoning)
            Turn(serving.turnContext(route: "chat.completions", tenant: tenant, sessionID: sessionID,
                                     stop: try fields.stop() + tools.stops, storedSession: stored, stages: stages, followUp: followUp),
                 output: output).run(generation, maxWaiting: serving.maxWaiting, responder: responder)
        } catch {
            responder.send(error.response())
        }
    }
}

/// A chat completion: `chat.completion.chunk` events ending with
/// `data: [DONE]`, or one `chat.completion` object.
final class ChatCompletionOutput: OpenAIOutput {
    let responder: Responder
    let model: ServedModel
    let streaming: Bool
    let includeUsage: Bool
    let logprobs: LogprobWriter?
    /// Reads the reply for tool calls (nil: the request has none to call).
    let toolCalls: ToolCallStream?
    let primer: String
    /// Splits the reply's reasoning from its answer (nil: it is all answer).
    private var reasoning: ReasoningSplitter?
    private let id = OpenAIID.make("chatcmpl-")
    private let created = OpenAIID.now
    private(set) var stream: ResponseStream?
    private var entries: [JSON] = []

    init(responder: Responder, model: ServedModel, stream: Bool, includeUsage: Bool, logprobs: Bool, tools: ToolRequest = ToolRequest(),
         reasoning: ReasoningSplitter? = nil) {
        toolCalls = tools.makeStream()
        self.reasoning = reasoning
        primer = tools.primer
        self.responder = responder
        self.model = model
        streaming = stream
        self.includeUsage = includeUsage
        self.logprobs = logprobs ? LogprobWriter(tokenizer: model.tokenizer) : nil
    }

    private func chunk(_ choices: [JSON], usage: JSON? = nil) {
        var object: JSON = ["id": JSON(id), "object": "chat.completion.chunk", "created": JSON(created), "model": JSON(model.name),
                            "choices": .array(choices)]
        if includeUsage { object["usage"] = usage ?? .null }
        stream?.write(ServerSentEvent(data: object.serialized))
    }

    private func choice(delta: JSON, logprobs: [JSON]?, finish: String?) -> JSON {
        ["index": 0, "delta": delta, "logprobs": logprobs.map { ["content": .array($0)] } ?? .null, "finish_reason": finish.map { JSON($0) } ?? .null]
    }

    func start() {
        if streaming {
            stream = responder.eventStream()
            chunk([choice(delta: ["role": "assistant", "content": ""], logprobs: nil, finish: nil)])
        }
        if let toolCalls { send(toolCalls.feed(primer), entry: nil) }
    }

    func token(index: Int, id: TokenID, text: String, logprobs lp: TokenLogprobs?) {
        let entry = lp.flatMap { lp in logprobs?.chatEntry(id, lp) }
        if let entry { entries.append(entry) }
        var answer = text
        if reasoning != nil {
            let (thought, rest) = reasoning!.feed(text)
            answer = rest
            if streaming, !thought.isEmpty { chunk([choice(delta: ["reasoning_content": JSON(thought)], logprobs: nil, finish: nil)]) }
        }
        if let toolCalls { return send(toolCalls.feed(answer), entry: entry) }
        guard streaming, !answer.isEmpty || entry != nil else { return }
        chunk([choice(delta: ["content": JSON(answer)], logprobs: entry.map { [$0] }, finish: nil)])
    }

    /// The reasoning still held when the reply ends.
    private func finishReasoning() {
        guard reasoning != nil else { return }
        let (thought, rest) = reasoning!.finish()
        if streaming, !thought.isEmpty { chunk([choice(delta: ["reasoning_content": JSON(thought)], logprobs: nil, finish: nil)]) }
        if let toolCalls { return send(toolCalls.feed(rest), entry: nil) }
        if streaming, !rest.isEmpty { chunk([choice(delta: ["content": JSON(rest)], logprobs: nil, finish: nil)]) }
    }

    /// The tool-call reader's events as chunks: content, or `delta.tool_calls`.
    private func send(_ events: [ToolCallStream.Event], entry: JSON?) {
        guard streaming else { return }
        var entry = entry
        for delta in events.compactMap(ToolCallDeltas.chat) {
            chunk([choice(delta: delta, logprobs: entry.map { [$0] }, finish: nil)])
            entry = nil
        }
        if let entry { chunk([choice(delta: ["content": ""], logprobs: [entry], finish: nil)]) }
    }

    func finish(_ end: TurnEnd) {
        guard end.completion.reason != .cancelled else { stream?.finish(); return }
        finishReasoning()
        if let toolCalls { send(toolCalls.finish(), entry: nil) }
        let calls = toolCalls?.calls ?? []
        let reason = end.completion.reason == .length ? "length" : calls.isEmpty ? "stop" : "tool_calls"
        let usage = Self.usage(end, reasoningTokens: reasoning?.reasoningTokens ?? 0)
        if let stream {
            chunk([choice(delta: [:], logprobs: nil, finish: reason)])
            if includeUsage { chunk([], usage: usage) }
            stream.write(ServerSentEvent(data: "[DONE]"))
            stream.finish()
        } else {
            var message: JSON = ["role": "assistant", "content": JSON(reasoning?.content ?? end.text), "refusal": .null]
            if let reasoning, reasoning.hadBlock { message["reasoning_content"] = JSON(reasoning.reasoning) }
            if !calls.isEmpty {
                let content = toolCalls?.content.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                message["content"] = content.isEmpty ? .null : JSON(content)
                message["tool_calls"] = .array(calls.map(ToolCallDeltas.chatCall))
            }
            let object: JSON = [
                "id": JSON(id), "object": "chat.completion", "created": JSON(created), "model": JSON(model.name),
                "choices": [["index": 0, "message": message, "finish_reason": JSON(reason),
                             "logprobs": logprobs == nil ? .null : ["content": .array(entries)]]],
                "usage": usage,
            ]
            responder.send(.json(object))
        }
    }

    /// OpenAI's usage: the whole input the model saw, and the part of it
    /// that came from the cache.
    static func usage(_ end: TurnEnd, reasoningTokens: Int = 0) -> JSON {
        let c = end.completion
        return ["prompt_tokens": JSON(end.inputTokens), "completion_tokens": JSON(c.tokens.count),
                "total_tokens": JSON(end.inputTokens + c.tokens.count),
                "prompt_tokens_details": c.cacheSplit,
                "completion_tokens_details": ["reasoning_tokens": JSON(min(reasoningTokens, c.tokens.count)),
                                              "accepted_prediction_tokens": JSON(c.acceptedTokens),
                                              "rejected_prediction_tokens": JSON(c.draftedTokens - c.acceptedTokens)]]
    }
}
