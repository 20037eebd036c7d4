import Engine
import Foundation
import HTTPServer
import JSONTree
import Model

/// The Responses API: `POST /v1/responses`, `GET` and `DELETE
/// /v1/responses/{id}`. A response continues a stored one
/// (`previous_response_id`) by extending its exact token ids, so its blocks
/// are found in the prefix cache and continuing twice from one response
/// forks the conversation over a shared prefix.
struct ResponsesRoute: Sendable {
    let serving: Serving

    func create(_ request: HTTPRequest, _ responder: Responder, tenant: Tenant) {
        let stages = RequestStages()
        do throws(OpenAIError) {
            let fields = try OpenAIFields(body: request.body)
            try fields.refuse(["background", "conversation", "prompt"])
            let instructions = try fields.string("instructions")
            var messages = try Self.inputMessages(fields["input"])
            let tools = try ToolRequest(fields, shape: .responses)
            if let instructions { messages.insert(ChatMessage(role: "system", content: instructions), at: 0) }
            let previousID = try fields.string("previous_response_id")
            let reasoning = try fields.reasoningOptions(effortPath: ["reasoning", "effort"], defaultBudget: serving.model.reasoningBudget)
            var prompts = Prompts(model: serving.model, replies: serving.replies, tenant: tenant, stages: stages)
            prompts.variables = reasoning.variables
            let rendered: Prompts.Prompt, history: [TokenID]?
            if let previousID {
                guard let previous = serving.responses.entry(previousID, tenant: tenant) else {
                    throw .invalid("no stored response '\(previousID)': it does not exist, expired, was deleted or was not stored",
                                              param: "previous_response_id", code: "previous_response_not_found")
                }
                history = previous.tokens
                rendered = try prompts.continuation(messages, after: previous.tokens.last, tools: tools, param: "input")
            } else {
                history = nil
                rendered = try prompts.conversation(messages, tools: tools, param: "input")
            }
            let prompt = (history ?? []) + rendered.ids
            let maxTokens = try fields.maxTokens(["max_output_tokens"], inputTokens: prompt.count,
                                                 room: serving.model.room(inputTokens: prompt.count, session: false))
            let sampling = try fields.sampling()
            var generation = GenerationRequest(prompt: prompt, maxTokens: maxTokens, sampling: sampling)
            generation.cacheSalt = tenant.cacheSalt
            generation.reasoningBudget = reasoning.engineBudget(model: serving.model, opensReasoning: rendered.opensReasoning)
            generation.constraint = try ResponseFormat.constraint(tools: tools, body: fields.body, path: ["text", "format"],
                                                                  masks: serving.model.schemaMasks)
            let store = try fields.bool("store") ?? true
            // OpenAI's metadata holds strings; anything else is left out.
            let metadata = JSON.object((fields["metadata"]?.objectValue ?? []).filter { $0.value.stringValue != nil })
            let shape = ResponseShape(id: OpenAIID.make("resp_"), itemID: OpenAIID.make("msg_"), created: OpenAIID.now,
                                      model: serving.model.name, instructions: instructions, previousID: previousID, store: store,
                                      maxOutputTokens: try fields.integer("max_output_tokens", 1...Int(Int32.max)),
                                      temperature: Self.decimal(sampling.temperature), topP: Self.decimal(sampling.topP),
                                      metadata: metadata, tools: tools)
            let output = ResponseOutput(responder: responder, shape: shape, stream: try fields.bool("stream") ?? false,
                                        prompt: prompt, responses: serving.responses, tenant: tenant,
                                        reasoning: reasoning.splitter(model: serving.model, opensReasoning: rendered.opensReasoning))
            let followUp = FollowUp(prompts: prompts, messages: messages, tools: tools.templateTools, history: history.map { .tokens($0) } ?? .none,
                                    separatesReasoning: reasoning.separate, opensReasoning: rendered.opensReasoning)
            Turn(serving.turnContext(route: "responses", tenant: tenant, sessionID: nil, stop: tools.stops, stages: stages,
                                     followUp: followUp), output: output)
                .run(generation, maxWaiting: serving.maxWaiting, responder: responder)
        } catch {
            responder.send(error.response())
        }
    }

    func retrieve(_ request: HTTPRequest, _ responder: Responder, tenant: Tenant) {
        let id = responder.parameters["id"]!
        guard let entry = serving.responses.entry(id, tenant: tenant) else { return responder.send(Self.notFound(id)) }
        responder.send(HTTPResponse(status: 200, headers: HTTPHeaders([(name: "Content-Type", value: "application/json")]),
                                    body: Array((entry.json + "\n").utf8)))
    }

    func delete(_ request: HTTPRequest, _ responder: Responder, tenant: Tenant) {
        let id = responder.parameters["id"]!
        guard serving.responses.delete(id, tenant: tenant) else { return responder.send(Self.notFound(id)) }
        responder.send(.json(["id": JSON(id), "object": "response", "deleted": true]))
    }

    /// A Float as the decimal it was written as (0.95, not 0.949999988).
    static func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }

    static func notFound(_ id: String) -> HTTPResponse {
        OpenAIError(status: 404, message: "no stored response '\(id)'", param: "response_id", code: "not_found").response()
    }

    /// `input`: a string (one user message) or a list of items: messages,
    /// function calls and their outputs.
    static func inputMessages(_ value: JSON?) throws(OpenAIError) -> [ChatMessage] {
        switch value {
        case .string(let s)?: return [ChatMessage(role: "user", content: s)]
        case .array(let items)?:
            guard !items.isEmpty else { throw .invalid("input must not be empty", param: "input") }
            return try ToolCallMessages.responsesInput(items)
        case nil: throw .invalid("input is required", param: "input")
        case let v?: throw .invalid("input must be a string or an array of message items, not \(v.kindName)", param: "input")
        }
    }
}
