import Engine
import Foundation
import HTTPServer
import Model

/// The Responses API: `POST /v1/responses`, `GET` and `DELETE
/// /v1/responses/{id}`. A response continues a stored one
/// (`previous_response_id`) by extending its exact token ids, so its blocks
/// are found in the prefix cache and continuing twice from one response
/// forks the conversation over a shared prefix.
struct ResponsesRoute: Sendable {
    let serving: Serving

    func create(_ request: HTTPRequest, _ responder: Responder, tenant: Tenant) {
        do throws(OpenAIError) {
            let fields = try OpenAIFields(body: request.body)
            try fields.refuse(["tools", "background", "conversation", "prompt"])
            if case let .object(text)? = fields["text"], case let .object(format)? = text["format"],
               case let .string(type)? = format["type"], type != "text" {
                throw .invalid("text.format of type '\(type)' is not supported by kvserve", param: "text.format")
            }
            let instructions = try fields.string("instructions")
            var messages = try Self.inputMessages(fields["input"])
            if let instructions { messages.insert(ChatMessage(role: "system", content: instructions), at: 0) }
            let previousID = try fields.string("previous_response_id")
            let prompts = Prompts(model: serving.model, replies: serving.replies, tenant: tenant)
            let prompt: [TokenID]
            if let previousID {
                guard let previous = serving.responses.entry(previousID, tenant: tenant) else {
                    throw .invalid("no stored response '\(previousID)': it does not exist, expired, was deleted or was not stored",
                                              param: "previous_response_id", code: "previous_response_not_found")
                }
                prompt = previous.tokens + (try prompts.continuation(messages, after: previous.tokens.last, param: "input"))
            } else {
                prompt = try prompts.conversation(messages, param: "input")
            }
            let maxTokens = try fields.maxTokens(["max_output_tokens"], inputTokens: prompt.count,
                                                 room: serving.model.room(inputTokens: prompt.count, session: false))
            let sampling = try fields.sampling()
            var generation = GenerationRequest(prompt: prompt, maxTokens: maxTokens, sampling: sampling)
            generation.cacheSalt = tenant.cacheSalt
            let store = try fields.bool("store") ?? true
            var metadata: Any = [String: Any]()
            if case let .object(m)? = fields["metadata"] {
                metadata = m.compactMapValues { v -> String? in if case let .string(s) = v { s } else { nil } }
            }
            let shape = ResponseShape(id: OpenAIID.make("resp_"), itemID: OpenAIID.make("msg_"), created: OpenAIID.now,
                                      model: serving.model.name, instructions: instructions, previousID: previousID, store: store,
                                      maxOutputTokens: try fields.integer("max_output_tokens", 1...Int(Int32.max)),
                                      temperature: Self.decimal(sampling.temperature), topP: Self.decimal(sampling.topP),
                                      metadata: metadata)
            let output = ResponseOutput(responder: responder, shape: shape, stream: try fields.bool("stream") ?? false,
                                        prompt: prompt,
                                        responses: serving.responses, tenant: tenant)
            Turn(serving.turnContext(route: "responses", tenant: tenant, sessionID: nil, stop: []), output: output)
                .run(generation, maxWaiting: serving.maxWaiting, responder: responder)
        } catch {
            responder.send(error.response())
        }
    }

    func retrieve(_ request: HTTPRequest, _ responder: Responder, tenant: Tenant) {
        let id = responder.parameters["id"]!
        guard let entry = serving.responses.entry(id, tenant: tenant) else { return responder.send(Self.notFound(id)) }
        responder.send(.json(Data((entry.json + "\n").utf8)))
    }

    func delete(_ request: HTTPRequest, _ responder: Responder, tenant: Tenant) {
        let id = responder.parameters["id"]!
        guard serving.responses.delete(id, tenant: tenant) else { return responder.send(Self.notFound(id)) }
        responder.send(.json(Data((JSONText.encode(["id": id, "object": "response", "deleted": true]) + "\n").utf8)))
    }

    /// A Float as the decimal it was written as (0.95, not 0.949999988).
    static func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }

    static func notFound(_ id: String) -> HTTPResponse {
        OpenAIError(status: 404, message: "no stored response '\(id)'", param: "response_id", code: "not_found").response()
    }

    /// `input`: a string (one user message) or a list of message items.
    static func inputMessages(_ value: JSONValue?) throws(OpenAIError) -> [ChatMessage] {
        switch value {
        case .string(let s)?: return [ChatMessage(role: "user", content: s)]
        case .array(let items)?:
            for (i, item) in items.enumerated() {
                if case let .object(o) = item, case let .string(type)? = o["type"], type != "message" {
                    throw .invalid("input[\(i)] of type '\(type)' is not supported: kvserve takes message items", param: "input[\(i)].type")
                }
            }
            return try ChatMessages.parse(value, field: "input")
        case nil: throw .invalid("input is required", param: "input")
        case let v?: throw .invalid("input must be a string or an array of message items, not \(v.kindName)", param: "input")
        }
    }
}

/// The fields of a response object that the request decides.
struct ResponseShape {
    let id, itemID: String
    let created: Int
    let model: String
    let instructions: String?
    let previousID: String?
    let store: Bool
    let maxOutputTokens: Int?
    let temperature, topP: Double
    let metadata: Any

    /// The response object, OpenAI's `response`, at one moment of its life.
    func object(status: String, text: String?, usage: [String: Any]?) -> [String: Any] {
        [
            "id": id, "object": "response", "created_at": created, "status": status, "model": model,
            "error": NSNull(),
            "incomplete_details": status == "incomplete" ? ["reason": "max_output_tokens"] : NSNull(),
            "instructions": instructions ?? NSNull(), "previous_response_id": previousID ?? NSNull(),
            "max_output_tokens": maxOutputTokens ?? NSNull(), "temperature": temperature, "top_p": topP,
            "store": store, "metadata": metadata, "parallel_tool_calls": true, "tool_choice": "auto", "tools": [Any](),
            "text": ["format": ["type": "text"]], "truncation": "disabled", "user": NSNull(),
            "output": text.map { [item(status: status == "in_progress" ? "in_progress" : status, text: $0)] } ?? [Any](),
            "usage": usage ?? NSNull(),
        ]
    }

    func item(status: String, text: String?) -> [String: Any] {
        ["type": "message", "id": itemID, "status": status, "role": "assistant",
         "content": text.map { [part($0)] } ?? [Any]()]
    }

    func part(_ text: String) -> [String: Any] { ["type": "output_text", "text": text, "annotations": [Any](), "logprobs": [Any]()] }
}

/// A response: one `response` object, or the Responses API's events from
/// `response.created` to `response.completed` (or `response.incomplete`),
/// each numbered by `sequence_number`. Stored when it ends, if asked.
final class ResponseOutput: OpenAIOutput {
    let responder: Responder
    let shape: ResponseShape
    let streaming: Bool
    let prompt: [TokenID]
    let responses: StoredResponses
    let tenant: Tenant
    private(set) var stream: ResponseStream?
    private var sequence = 0

    init(responder: Responder, shape: ResponseShape, stream: Bool, prompt: [TokenID],
         responses: StoredResponses, tenant: Tenant) {
        self.responder = responder
        self.shape = shape
        streaming = stream
        self.prompt = prompt
        self.responses = responses
        self.tenant = tenant
    }

    private func event(_ type: String, _ fields: [String: Any]) {
        var object = fields
        object["type"] = type
        object["sequence_number"] = sequence
        sequence += 1
        stream?.write(ServerSentEvent(event: type, data: JSONText.encode(object)))
    }

    private var position: [String: Any] { ["item_id": shape.itemID, "output_index": 0, "content_index": 0] }

    func start() {
        guard streaming else { return }
        stream = responder.eventStream()
        event("response.created", ["response": shape.object(status: "in_progress", text: nil, usage: nil)])
        event("response.in_progress", ["response": shape.object(status: "in_progress", text: nil, usage: nil)])
        event("response.output_item.added", ["output_index": 0, "item": shape.item(status: "in_progress", text: nil)])
        event("response.content_part.added", position.merging(["part": shape.part("")]) { a, _ in a })
    }

    func token(index: Int, id: TokenID, text: String, logprobs: TokenLogprobs?) {
        guard streaming, !text.isEmpty else { return }
        event("response.output_text.delta", position.merging(["delta": text, "logprobs": [Any]()]) { a, _ in a })
    }

    func finish(_ end: TurnEnd) {
        let c = end.completion
        guard c.reason != .cancelled else { stream?.finish(); return }
        let status = c.reason == .length ? "incomplete" : "completed"
        let usage: [String: Any] = [
            "input_tokens": end.inputTokens, "input_tokens_details": c.cacheSplit.merging(["cache_write_tokens": 0]) { $1 },
            "output_tokens": c.tokens.count, "output_tokens_details": ["reasoning_tokens": 0],
            "total_tokens": end.inputTokens + c.tokens.count,
        ]
        let object = shape.object(status: status, text: end.text, usage: usage)
        if shape.store {
            // The token that ended the reply is part of the conversation a
            // continuation extends, as it is of a session's history.
            responses.store(shape.id, tenant: tenant, tokens: prompt + c.tokens + [c.stopToken].compactMap { $0 }, json: JSONText.encode(object))
        }
        if stream != nil {
            event("response.output_text.done", position.merging(["text": end.text, "logprobs": [Any]()]) { a, _ in a })
            event("response.content_part.done", position.merging(["part": shape.part(end.text)]) { a, _ in a })
            event("response.output_item.done", ["output_index": 0, "item": shape.item(status: status, text: end.text)])
            event(status == "completed" ? "response.completed" : "response.incomplete", ["response": object])
            stream?.finish()
        } else {
            responder.send(.json(Data((JSONText.encode(object) + "\n").utf8)))
        }
    }
}
