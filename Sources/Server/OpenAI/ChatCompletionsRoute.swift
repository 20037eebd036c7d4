import Engine
import Foundation
import HTTPServer
import Model

/// `POST /v1/chat/completions`. `messages` is always the whole
/// conversation: stateless, the prefix cache finds what earlier turns
/// computed; with a session key, the engine reconciles the messages with
/// the session's history and continues from where they diverge.
struct ChatCompletionsRoute: Sendable {
    let serving: Serving

    func handle(_ request: HTTPRequest, _ responder: Responder, tenant: Tenant) {
        do throws(OpenAIError) {
            let fields = try OpenAIFields(body: request.body)
            try fields.requireOneChoice()
            try fields.refuse(["functions", "logit_bias", "audio"])
            let messages = try ChatMessages.parse(fields["messages"])
            let tools = try ToolRequest(fields, shape: .chatCompletions)
            let sessionID = try fields.sessionID(header: request.headers["X-Session-Id"])
            let stored = try serving.storedSession(sessionID, tenant: tenant)
            let topLogprobs = try fields.integer("top_logprobs", 0...20)
            let logprobs = try fields.bool("logprobs") ?? false
            if topLogprobs != nil && !logprobs { throw .invalid("top_logprobs needs logprobs: true", param: "top_logprobs") }
            let prompt = try Prompts(model: serving.model, replies: serving.replies, tenant: tenant)
                .conversation(messages, tools: tools, param: "messages")
            var generation = try fields.generation(prompt, maxTokenKeys: ["max_completion_tokens", "max_tokens"], sessionID: sessionID,
                                                   tenant: tenant, model: serving.model)
            generation.topLogprobs = logprobs ? (topLogprobs ?? 0) : nil
            generation.constraint = try ResponseFormat.constraint(tools: tools, body: request.body, path: ["response_format"],
                                                                  masks: serving.model.schemaMasks)
            let output = ChatCompletionOutput(responder: responder, model: serving.model, stream: try fields.bool("stream") ?? false,
                                              includeUsage: fields.includeUsage, logprobs: logprobs, tools: tools)
            Turn(serving.turnContext(route: "chat.completions", tenant: tenant, sessionID: sessionID,
                                     stop: try fields.stop() + tools.stops, storedSession: stored),
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
    private let id = OpenAIID.make("chatcmpl-")
    private let created = OpenAIID.now
    private(set) var stream: ResponseStream?
    private var entries: [[String: Any]] = []

    init(responder: Responder, model: ServedModel, stream: Bool, includeUsage: Bool, logprobs: Bool, tools: ToolRequest = ToolRequest()) {
        toolCalls = tools.makeStream()
        primer = tools.primer
        self.responder = responder
        self.model = model
        streaming = stream
        self.includeUsage = includeUsage
        self.logprobs = logprobs ? LogprobWriter(tokenizer: model.tokenizer) : nil
    }

    private func chunk(_ choices: [[String: Any]], usage: [String: Any]? = nil) {
        var object: [String: Any] = ["id": id, "object": "chat.completion.chunk", "created": created, "model": model.name,
                                     "choices": choices]
        if includeUsage { object["usage"] = usage ?? NSNull() }
        stream?.write(ServerSentEvent(data: JSONText.encode(object)))
    }

    private func choice(delta: [String: Any], logprobs: [[String: Any]]?, finish: String?) -> [String: Any] {
        ["index": 0, "delta": delta, "logprobs": logprobs.map { ["content": $0] } ?? NSNull(), "finish_reason": finish ?? NSNull()]
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
        if let toolCalls { return send(toolCalls.feed(text), entry: entry) }
        guard streaming, !text.isEmpty || entry != nil else { return }
        chunk([choice(delta: ["content": text], logprobs: entry.map { [$0] }, finish: nil)])
    }

    /// The tool-call reader's events as chunks: content, or `delta.tool_calls`.
    private func send(_ events: [ToolCallStream.Event], entry: [String: Any]?) {
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
        if let toolCalls { send(toolCalls.finish(), entry: nil) }
        let calls = toolCalls?.calls ?? []
        let reason = end.completion.reason == .length ? "length" : calls.isEmpty ? "stop" : "tool_calls"
        let usage = Self.usage(end)
        if let stream {
            chunk([choice(delta: [:], logprobs: nil, finish: reason)])
            if includeUsage { chunk([], usage: usage) }
            stream.write(ServerSentEvent(data: "[DONE]"))
            stream.finish()
        } else {
            var message: [String: Any] = ["role": "assistant", "content": end.text, "refusal": NSNull()]
            if !calls.isEmpty {
                let content = toolCalls?.content.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                message["content"] = content.isEmpty ? NSNull() : content
                message["tool_calls"] = calls.map(ToolCallDeltas.chatCall)
            }
            let object: [String: Any] = [
                "id": id, "object": "chat.completion", "created": created, "model": model.name,
                "choices": [["index": 0, "message": message, "finish_reason": reason,
                             "logprobs": logprobs == nil ? NSNull() : ["content": entries] as Any]],
                "usage": usage,
            ]
            responder.send(.json(Data((JSONText.encode(object) + "\n").utf8)))
        }
    }

    /// OpenAI's usage: the whole input the model saw, and the part of it
    /// that came from the cache.
    static func usage(_ end: TurnEnd) -> [String: Any] {
        let c = end.completion
        return ["prompt_tokens": end.inputTokens, "completion_tokens": c.tokens.count, "total_tokens": end.inputTokens + c.tokens.count,
                "prompt_tokens_details": c.cacheSplit,
                "completion_tokens_details": ["reasoning_tokens": 0]]
    }
}
