import Engine
import Foundation
import HTTPServer
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
    let metadata: Any
    var tools = ToolRequest()

    /// The response object, OpenAI's `response`, at one moment of its life.
    func object(status: String, output: [[String: Any]], usage: [String: Any]?) -> [String: Any] {
        [
            "id": id, "object": "response", "created_at": created, "status": status, "model": model,
            "error": NSNull(),
            "incomplete_details": status == "incomplete" ? ["reason": "max_output_tokens"] : NSNull(),
            "instructions": instructions ?? NSNull(), "previous_response_id": previousID ?? NSNull(),
            "max_output_tokens": maxOutputTokens ?? NSNull(), "temperature": temperature, "top_p": topP,
            "store": store, "metadata": metadata, "parallel_tool_calls": tools.parallelCalls,
            "tool_choice": tools.choice.isNamed ? (["type": "function", "name": tools.choice.name] as Any) : (tools.choice.name as Any),
            "tools": tools.tools.map(\.responsesShape),
            "text": ["format": ["type": "text"]], "truncation": "disabled", "user": NSNull(),
            "output": output, "usage": usage ?? NSNull(),
        ]
    }

    func item(status: String, text: String?) -> [String: Any] {
        ["type": "message", "id": itemID, "status": status, "role": "assistant",
         "content": text.map { [part($0)] } ?? [Any]()]
    }

    func part(_ text: String) -> [String: Any] { ["type": "output_text", "text": text, "annotations": [Any](), "logprobs": [Any]()] }

    /// A `function_call` output item.
    func item(call: ToolCallStream.Call, itemID: String, status: String) -> [String: Any] {
        ["type": "function_call", "id": itemID, "call_id": call.id, "name": call.name, "arguments": call.arguments, "status": status]
    }
}

extension ToolDefinition {
    /// The Responses API's `FunctionTool`, as a response echoes it.
    var responsesShape: [String: Any] {
        ["type": "function", "name": name, "description": description ?? NSNull(),
         "parameters": parameters?.foundationObject ?? NSNull(), "strict": strict ?? true]
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
        case message(text: String)
        /// A call of the reader's, by its index there, and the item's id.
        case call(index: Int, itemID: String)
    }

    private var items: [Item] = []
    private var messageIndex: Int?
    /// Whitespace before anything else, which opens no message by itself.
    private var leadingSpace = ""

    init(responder: Responder, shape: ResponseShape, stream: Bool, prompt: [TokenID],
         responses: StoredResponses, tenant: Tenant) {
        self.responder = responder
        self.shape = shape
        streaming = stream
        self.prompt = prompt
        self.responses = responses
        self.tenant = tenant
        toolCalls = shape.tools.makeStream()
    }

    private func event(_ type: String, _ fields: [String: Any]) {
        guard stream != nil else { return }
        var object = fields
        object["type"] = type
        object["sequence_number"] = sequence
        sequence += 1
        stream?.write(ServerSentEvent(event: type, data: JSONText.encode(object)))
    }

    private func position(_ index: Int) -> [String: Any] { ["item_id": shape.itemID, "output_index": index, "content_index": 0] }

    func start() {
        if streaming {
            stream = responder.eventStream()
            event("response.created", ["response": shape.object(status: "in_progress", output: [], usage: nil)])
            event("response.in_progress", ["response": shape.object(status: "in_progress", output: [], usage: nil)])
        }
        guard let toolCalls else { return openMessage() }
        handle(toolCalls.feed(shape.tools.primer))
    }

    func token(index: Int, id: TokenID, text: String, logprobs: TokenLogprobs?) {
        if let toolCalls { return handle(toolCalls.feed(text)) }
        appendText(text)
    }

    private func openMessage() {
        messageIndex = items.count
        items.append(.message(text: ""))
        event("response.output_item.added", ["output_index": messageIndex!, "item": shape.item(status: "in_progress", text: nil)])
        event("response.content_part.added", position(messageIndex!).merging(["part": shape.part("")]) { a, _ in a })
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
        event("response.output_text.delta", position(k).merging(["delta": piece, "logprobs": [Any]()]) { a, _ in a })
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
                event("response.output_item.added", ["output_index": items.count - 1,
                                                     "item": shape.item(call: toolCalls.calls[index], itemID: itemID, status: "in_progress")])
            case let .arguments(index, fragment):
                guard let found = callItem(index) else { continue }
                let (k, itemID) = found
                event("response.function_call_arguments.delta", ["item_id": itemID, "output_index": k, "delta": fragment])
            case let .callEnded(index):
                guard let found = callItem(index) else { continue }
                let (k, itemID) = found
                let call = toolCalls.calls[index]
                event("response.function_call_arguments.done", ["item_id": itemID, "output_index": k, "arguments": call.arguments])
                event("response.output_item.done", ["output_index": k, "item": shape.item(call: call, itemID: itemID, status: "completed")])
            }
        }
    }

    private func callItem(_ index: Int) -> (Int, String)? {
        for (k, item) in items.enumerated() { if case let .call(i, itemID) = item, i == index { return (k, itemID) } }
        return nil
    }

    /// The output items, as the response object lists them.
    private func output(status: String) -> [[String: Any]] {
        items.map { item in
            switch item {
            case let .message(text): return shape.item(status: status, text: text)
            case let .call(index, itemID): return shape.item(call: toolCalls!.calls[index], itemID: itemID, status: "completed")
            }
        }
    }

    func finish(_ end: TurnEnd) {
        let c = end.completion
        guard c.reason != .cancelled else { stream?.finish(); return }
        if let toolCalls { handle(toolCalls.finish()) }
        if items.isEmpty { appendText("", force: true) }
        let status = c.reason == .length ? "incomplete" : "completed"
        let usage: [String: Any] = [
            "input_tokens": end.inputTokens, "input_tokens_details": c.cacheSplit.merging(["cache_write_tokens": 0]) { $1 },
            "output_tokens": c.tokens.count, "output_tokens_details": ["reasoning_tokens": 0],
            "total_tokens": end.inputTokens + c.tokens.count,
        ]
        if let k = messageIndex, case let .message(text) = items[k] {
            event("response.output_text.done", position(k).merging(["text": text, "logprobs": [Any]()]) { a, _ in a })
            event("response.content_part.done", position(k).merging(["part": shape.part(text)]) { a, _ in a })
            event("response.output_item.done", ["output_index": k, "item": shape.item(status: status, text: text)])
        }
        let object = shape.object(status: status, output: output(status: status), usage: usage)
        if shape.store {
            // The token that ended the reply is part of the conversation a
            // continuation extends, as it is of a session's history.
            responses.store(shape.id, tenant: tenant, tokens: prompt + c.tokens + [c.stopToken].compactMap { $0 }, json: JSONText.encode(object))
        }
        if stream != nil {
            event(status == "completed" ? "response.completed" : "response.incomplete", ["response": object])
            stream?.finish()
        } else {
            responder.send(.json(Data((JSONText.encode(object) + "\n").utf8)))
        }
    }
}
