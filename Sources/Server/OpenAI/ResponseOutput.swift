import Engine
import Foundation
import HTTPServer
import JSONTree
import Model

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
    let metadata: JSON
    var tools = ToolRequest()

    /// The response object, OpenAI's `response`, at one moment of its life.
    func object(status: String, output: [JSON], usage: JSON?) -> JSON {
        [
            "id": JSON(id), "object": "response", "created_at": JSON(created), "status": JSON(status), "model": JSON(model),
            "error": .null,
            "incomplete_details": status == "incomplete" ? ["reason": "max_output_tokens"] : .null,
            "instructions": instructions.map { JSON($0) } ?? .null, "previous_response_id": previousID.map { JSON($0) } ?? .null,
            "max_output_tokens": maxOutputTokens.map { JSON($0) } ?? .null, "temperature": JSON(temperature), "top_p": JSON(topP),
            "store": JSON(store), "metadata": metadata, "parallel_tool_calls": JSON(tools.parallelCalls),
            "tool_choice": tools.choice.isNamed ? ["type": "function", "name": JSON(tools.choice.name)] : JSON(tools.choice.name),
            "tools": .array(tools.tools.map(\.responsesShape)),
            "text": ["format": ["type": "text"]], "truncation": "disabled", "user": .null,
            "output": .array(output), "usage": usage ?? .null,
        ]
    }

    func item(status: String, text: String?) -> JSON {
        ["type": "message", "id": JSON(itemID), "status": JSON(status), "role": "assistant",
         "content": .array(text.map { [part($0)] } ?? [])]
    }

    func part(_ text: String) -> JSON { ["type": "output_text", "text": JSON(text), "annotations": [], "logprobs": []] }

    /// A `reasoning` output item: the reply's reasoning as `reasoning_text`.
    func item(reasoning text: String, itemID: String, status: String) -> JSON {
        ["type": "reasoning", "id": JSON(itemID), "summary": [], "content": [["type": "reasoning_text", "text": JSON(text)]],
         "status": JSON(status)]
    }

    /// A `function_call` output item.
    func item(call: ToolCallStream.Call, itemID: String, status: String) -> JSON {
        ["type": "function_call", "id": JSON(itemID), "call_id": JSON(call.id), "name": JSON(call.name),
         "arguments": JSON(call.arguments), "status": JSON(status)]
    }
}

extension ToolDefinition {
    /// The Responses API's `FunctionTool`, as a response echoes it.
    var responsesShape: JSON {
        ["type": "function", "name": JSON(name), "description": description.map { JSON($0) } ?? .null,
         "parameters": parameters ?? .null, "strict": JSON(strict ?? true)]
    }
}

/// A response: one `response` object, or the Responses API's events from
/// `response.created` to `response.completed` (or `response.incomplete`),
/// each numbered by `sequence_number`. Stored when it ends, if asked.
///
/// Its output items: the message, opened when its first text comes (at
/// once when the request has no tools; with tools, when text that is not
/// only whitespace comes, or at the end when nothing else did), and a
/// `function_call` item for each call, each at its `output_index`.
final class ResponseOutput: OpenAIOutput {
    let responder: Responder
    let shape: ResponseShape
    let streaming: Bool
    let prompt: [TokenID]
    let responses: StoredResponses
    let tenant: Tenant
    private let toolCalls: ToolCallStream?
    private(set) var stream: ResponseStream?
    private var sequence = 0

    private enum Item {
        case reasoning(text: String)
        case message(text: String)
        /// A call of the reader's, by its index there, and the item's id.
        case call(index: Int, itemID: String)
    }

    private var items: [Item] = []
    private var messageIndex: Int?
    /// Splits the reply's reasoning from its answer (nil: it is all answer).
    private var reasoning: ReasoningSplitter?
    private let reasoningID = OpenAIID.make("rs_")
    private var reasoningIndex: Int?
    private var reasoningDone = false
    /// Whitespace before anything else, which opens no message by itself.
    private var leadingSpace = ""

    init(responder: Responder, shape: ResponseShape, stream: Bool, prompt: [TokenID],
         responses: StoredResponses, tenant: Tenant, reasoning: ReasoningSplitter? = nil) {
        self.responder = responder
        self.reasoning = reasoning
        self.shape = shape
        streaming = stream
        self.prompt = prompt
        self.responses = responses
        self.tenant = tenant
        toolCalls = shape.tools.makeStream()
    }

    private func event(_ type: String, _ fields: JSON) {
        guard stream != nil else { return }
        let object = JSON.object([("type", JSON(type))] + (fields.objectValue ?? []) + [("sequence_number", JSON(sequence))])
        sequence += 1
        stream?.write(ServerSentEvent(event: type, data: object.serialized))
    }

    /// Where a text event is, and its own fields after that.
    private func position(_ index: Int, _ fields: JSON) -> JSON {
        .object([("item_id", JSON(shape.itemID)), ("output_index", JSON(index)), ("content_index", 0)] + (fields.objectValue ?? []))
    }

    func start() {
        if streaming {
            stream = responder.eventStream()
            event("response.created", ["response": shape.object(status: "in_progress", output: [], usage: nil)])
            event("response.in_progress", ["response": shape.object(status: "in_progress", output: [], usage: nil)])
        }
        // A reasoning reply's message opens after its reasoning item.
        guard let toolCalls else { return reasoning == nil ? openMessage() : () }
        handle(toolCalls.feed(shape.tools.primer))
    }

    func token(index: Int, id: TokenID, text: String, logprobs: TokenLogprobs?) {
        var answer = text
        if reasoning != nil {
            let (thought, rest) = reasoning!.feed(text)
            appendReasoning(thought)
            answer = rest
            if reasoning!.state == .closed || reasoning!.state == .answer { endReasoning() }
        }
        if let toolCalls { return handle(toolCalls.feed(answer)) }
        appendText(answer)
    }

    private func appendReasoning(_ text: String) {
        guard !text.isEmpty else { return }
        if reasoningIndex == nil {
            reasoningIndex = items.count
            items.append(.reasoning(text: ""))
            event("response.output_item.added", ["output_index": JSON(reasoningIndex!),
                                                 "item": shape.item(reasoning: "", itemID: reasoningID, status: "in_progress")])
        }
        guard let k = reasoningIndex, case let .reasoning(old) = items[k] else { return }
        items[k] = .reasoning(text: old + text)
        event("response.reasoning_text.delta", ["item_id": JSON(reasoningID), "output_index": JSON(k), "content_index": 0, "delta": JSON(text)])
    }

    /// The reasoning item's last events, once.
    private func endReasoning() {
        guard let k = reasoningIndex, !reasoningDone, case let .reasoning(text) = items[k] else { return }
        reasoningDone = true
        event("response.reasoning_text.done", ["item_id": JSON(reasoningID), "output_index": JSON(k), "content_index": 0, "text": JSON(text)])
        event("response.output_item.done", ["output_index": JSON(k), "item": shape.item(reasoning: text, itemID: reasoningID, status: "completed")])
    }

    private func openMessage() {
        messageIndex = items.count
        items.append(.message(text: ""))
        event("response.output_item.added", ["output_index": JSON(messageIndex!), "item": shape.item(status: "in_progress", text: nil)])
        event("response.content_part.added", position(messageIndex!, ["part": shape.part("")]))
    }

    /// `force`: the reply ends, and its whitespace goes into the message it opens.
    private func appendText(_ text: String, force: Bool = false) {
        guard !text.isEmpty || force else { return }
        if messageIndex == nil {
            guard force || !text.allSatisfy(\.isWhitespace) else { leadingSpace += text; return }
            openMessage()
        }
        guard !text.isEmpty || !leadingSpace.isEmpty else { return }
        let piece = leadingSpace + text
        leadingSpace = ""
        guard let k = messageIndex, case let .message(old) = items[k] else { return }
        items[k] = .message(text: old + piece)
        event("response.output_text.delta", position(k, ["delta": JSON(piece), "logprobs": []]))
    }

    private func handle(_ events: [ToolCallStream.Event]) {
        guard let toolCalls else { return }
        for e in events {
            switch e {
            case let .content(text):
                appendText(text)
            case let .callStarted(index, _, _):
                let itemID = OpenAIID.make("fc_")
                items.append(.call(index: index, itemID: itemID))
                event("response.output_item.added", ["output_index": JSON(items.count - 1),
                                                     "item": shape.item(call: toolCalls.calls[index], itemID: itemID, status: "in_progress")])
            case let .arguments(index, fragment):
                guard let found = callItem(index) else { continue }
                let (k, itemID) = found
                event("response.function_call_arguments.delta", ["item_id": JSON(itemID), "output_index": JSON(k), "delta": JSON(fragment)])
            case let .callEnded(index):
                guard let found = callItem(index) else { continue }
                let (k, itemID) = found
                let call = toolCalls.calls[index]
                event("response.function_call_arguments.done", ["item_id": JSON(itemID), "output_index": JSON(k), "arguments": JSON(call.arguments)])
                event("response.output_item.done", ["output_index": JSON(k), "item": shape.item(call: call, itemID: itemID, status: "completed")])
            }
        }
    }

    private func callItem(_ index: Int) -> (Int, String)? {
        for (k, item) in items.enumerated() { if case let .call(i, itemID) = item, i == index { return (k, itemID) } }
        return nil
    }

    /// The output items, as the response object lists them.
    private func output(status: String) -> [JSON] {
        items.map { item in
            switch item {
            case let .reasoning(text): return shape.item(reasoning: text, itemID: reasoningID, status: "completed")
            case let .message(text): return shape.item(status: status, text: text)
            case let .call(index, itemID): return shape.item(call: toolCalls!.calls[index], itemID: itemID, status: "completed")
            }
        }
    }

    func finish(_ end: TurnEnd) {
        let c = end.completion
        guard c.reason != .cancelled else { stream?.finish(); return }
        if reasoning != nil {
            let (thought, rest) = reasoning!.finish()
            appendReasoning(thought)
            endReasoning()
            if let toolCalls { handle(toolCalls.feed(rest)) } else { appendText(rest) }
        }
        if let toolCalls { handle(toolCalls.finish()) }
        if messageIndex == nil && !items.contains(where: { if case .call = $0 { true } else { false } }) { appendText("", force: true) }
        let status = c.reason == .length ? "incomplete" : "completed"
        var cacheDetails = c.cacheSplit
        cacheDetails["cache_write_tokens"] = 0
        let usage: JSON = [
            "input_tokens": JSON(end.inputTokens), "input_tokens_details": cacheDetails,
            "output_tokens": JSON(c.tokens.count), "output_tokens_details": ["reasoning_tokens": JSON(min(reasoning?.reasoningTokens ?? 0, c.tokens.count))],
            "total_tokens": JSON(end.inputTokens + c.tokens.count),
        ]
        if let k = messageIndex, case let .message(text) = items[k] {
            event("response.output_text.done", position(k, ["text": JSON(text), "logprobs": []]))
            event("response.content_part.done", position(k, ["part": shape.part(text)]))
            event("response.output_item.done", ["output_index": JSON(k), "item": shape.item(status: status, text: text)])
        }
        let object = shape.object(status: status, output: output(status: status), usage: usage)
        if shape.store {
            // The token that ended the reply is part of the conversation a
            // continuation extends, as it is of a session's history.
            // As the next request renders it, when that differs (a reasoning model's reply without its reasoning).
            responses.store(shape.id, tenant: tenant, tokens: end.followUp ?? (prompt + c.tokens + [c.stopToken].compactMap { $0 }),
                            json: object.serialized)
        }
        if stream != nil {
            event(status == "completed" ? "response.completed" : "response.incomplete", ["response": object])
            stream?.finish()
        } else {
            responder.send(.json(object))
        }
    }
}
