import JSONTree
import Model
import Testing
@testable import Server

/// Reading replies into content and tool calls, whole and in pieces: every
/// split of a reply into pieces gives the same calls and content as the
/// whole reply, and the calls' arguments are the text the model wrote.
@Suite struct ToolCallStreamTests {
    static func reader(maxCalls: Int = .max) -> ToolCallStream {
        var n = 0
        return ToolCallStream(names: ["get_weather", "get_time"], maxCalls: maxCalls) { n += 1; return "call_\(n)" }
    }

    /// The calls and content of `text` fed in `pieces`-sized pieces.
    static func read(_ text: String, pieces: Int, maxCalls: Int = .max) -> ([ToolCallStream.Call], String, [ToolCallStream.Event]) {
        let r = reader(maxCalls: maxCalls)
        var events: [ToolCallStream.Event] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            events += r.feed(String(rest.prefix(pieces)))
            rest = rest.dropFirst(pieces)
        }
        events += r.finish()
        return (r.calls, r.content, events)
    }

    static let replies: [(String, [ToolCallStream.Call], String)] = [
        // (reply, calls, content)
        ("It is sunny.", [], "It is sunny."),
        ("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}\n</tool_call>",
         [.init(id: "call_1", name: "get_weather", arguments: "{\"location\": \"Paris\"}")], ""),
        ("Let me look.\n<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"location\":\"a}\\\"b\",\"n\":[1,{}]}}</tool_call>\n"
            + "<tool_call>\n{\"name\": \"get_time\", \"parameters\": {}}\n</tool_call>",
         [.init(id: "call_1", name: "get_weather", arguments: "{\"location\":\"a}\\\"b\",\"n\":[1,{}]}"),
          .init(id: "call_2", name: "get_time", arguments: "{}")], "Let me look.\n\n"),
        // An unknown function is text, as written.
        ("<tool_call>{\"name\": \"launch\", \"arguments\": {}}</tool_call>", [],
         "<tool_call>{\"name\": \"launch\", \"arguments\": {}}</tool_call>"),
        // Not a call's shape: text.
        ("a <tool_call> b", [], "a <tool_call> b"),
        ("<tool_call", [], "<tool_call"),
        // A reply that begins with JSON that is not a call is text.
        ("  {\"answer\": 42} ", [], "{\"answer\": 42} "),
        // A bare JSON call (Llama 3.1's form).
        ("  {\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\"}}", [.init(id: "call_1", name: "get_time", arguments: "{\"zone\": \"UTC\"}")], ""),
        // Cut short (max_tokens): the call ends with what was written.
        ("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Par", [.init(id: "call_1", name: "get_weather", arguments: "{\"location\": \"Par")], ""),
    ]

    @Test func everySplitGivesTheWholeReplysCalls() {
        for (text, calls, content) in Self.replies {
            for size in [1, 2, 3, 7, 1000] {
                let (c, t, _) = Self.read(text, pieces: size)
                #expect(c == calls, "\(text.debugDescription) in pieces of \(size)")
                #expect(t == content, "\(text.debugDescription) in pieces of \(size)")
            }
        }
    }

    /// A call streams as OpenAI streams one: its header (id, name) once,
    /// then fragments that join to the arguments.
    @Test func aCallStreamsHeaderThenArgumentFragments() {
        let text = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call>"
        let (_, _, events) = Self.read(text, pieces: 4)
        guard case .callStarted(0, "call_1", "get_weather")? = events.first else { Issue.record("\(events)"); return }
        let fragments = events.compactMap { if case let .arguments(0, f) = $0 { f } else { nil } }
        #expect(fragments.count > 5)
        #expect(fragments.joined() == "{\"location\": \"Paris\", \"unit\": \"celsius\"}")
        #expect(events.last == .callEnded(index: 0))
        #expect(!events.contains { if case .content = $0 { true } else { false } })
    }

    /// A named function's primer holds the call's start: the model writes the arguments.
    @Test func aPrimedCallTakesTheArgumentsTheModelWrites() {
        var tools = ToolRequest()
        tools.tools = [ToolDefinition(name: "get_weather", description: nil, parameters: nil, strict: nil)]
        tools.choice = .function("get_weather")
        let r = Self.reader(maxCalls: 1)
        var events = r.feed(tools.primer)
        #expect(events == [.callStarted(index: 0, id: "call_1", name: "get_weather")])
        events = r.feed("{\"location\": \"Paris\"}}\n</tool_call>") + r.finish()
        #expect(r.calls == [.init(id: "call_1", name: "get_weather", arguments: "{\"location\": \"Paris\"}")])
        #expect(r.content == "")
        // Only one call is wanted: a second is dropped.
        let one = Self.read("<tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call><tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call> bye",
                            pieces: 5, maxCalls: 1)
        #expect(one.0.count == 1 && one.1 == "")
    }
}

/// `tools` and `tool_choice` as both APIs send them, and the 400s for bad ones.
@Suite struct ToolRequestTests {
    static func request(_ body: String, shape: ToolRequest.Shape = .chatCompletions) throws(OpenAIError) -> ToolRequest {
        try ToolRequest(try OpenAIFields(body: Array(body.utf8)), shape: shape)
    }

    static let weather = #"{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"b": {}, "a": {}}}}}"#

    @Test func bothShapesAndEveryChoiceParse() throws {
        let chat = try Self.request(#"{"tools": [\#(Self.weather)], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "parallel_tool_calls": false}"#)
        #expect(chat.choice == .function("get_weather") && !chat.parallelCalls && chat.singleCall)
        // The schema keeps the client's member order.
        #expect(chat.tools[0].templateShape.pythonJSON
            == #"{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"b": {}, "a": {}}}}}"#)
        #expect(chat.stops == ["</tool_call>"])
        let responses = try Self.request(#"{"tools": [{"type": "function", "name": "f", "description": "d", "strict": true}], "tool_choice": {"type": "function", "name": "f"}}"#,
                                         shape: .responses)
        #expect(responses.tools == [ToolDefinition(name: "f", description: "d", parameters: nil, strict: true)])
        #expect(responses.choice == .function("f"))
        for (choice, expected) in [("none", ToolChoice.none), ("auto", .auto), ("required", .required)] {
            #expect(try Self.request(#"{"tools": [\#(Self.weather)], "tool_choice": "\#(choice)"}"#).choice == expected)
        }
        #expect(try Self.request("{}").isEmpty)
        #expect(try Self.request(#"{"tool_choice": "none"}"#).choice == ToolChoice.none)
    }

    @Test func badToolsAreA400NamingTheField() {
        let cases: [(String, String)] = [
            (#"{"tools": {}}"#, "tools"),
            (#"{"tools": [{"type": "retrieval"}]}"#, "tools[0].type"),
            (#"{"tools": [{"type": "function", "function": {}}]}"#, "tools[0].function.name"),
            (#"{"tools": [{"type": "function", "function": {"name": "two words"}}]}"#, "tools[0].function.name"),
            (#"{"tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]}"#, "tools[0].function.parameters"),
            (#"{"tools": [\#(Self.weather), \#(Self.weather)]}"#, "tools[1]"),
            (#"{"tools": [\#(Self.weather)], "tool_choice": {"type": "function", "function": {"name": "other"}}}"#, "tool_choice"),
            (#"{"tools": [\#(Self.weather)], "tool_choice": "sometimes"}"#, "tool_choice"),
            (#"{"tool_choice": "required"}"#, "tool_choice"),
            (#"{"tools": [\#(Self.weather)], "parallel_tool_calls": "yes"}"#, "parallel_tool_calls"),
        ]
        for (body, param) in cases {
            do {
                _ = try Self.request(body)
                Issue.record("\(body) was accepted")
            } catch {
                #expect(error.status == 400 && error.param == param, "\(body): \(error.param ?? "nil"): \(error.message)")
            }
        }
    }

    /// The schema a forced call is held to: a named function's parameters, or one call of any tool.
    @Test func theConstraintSchemaIsTheCallsShape() throws {
        let named = try Self.request(#"{"tools": [\#(Self.weather)], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}"#)
        #expect(ToolCallConstraint.schema(named)?.serialized == #"{"type":"object","properties":{"b":{},"a":{}}}"#)
        let required = try Self.request(#"{"tools": [\#(Self.weather), {"type": "function", "function": {"name": "g"}}], "tool_choice": "required"}"#)
        #expect(ToolCallConstraint.schema(required)?.serialized == #"{"anyOf":[{"type":"object","properties":{"name":{"const":"get_weather"},"#
            + #""arguments":{"type":"object","properties":{"b":{},"a":{}}}},"required":["name","arguments"],"additionalProperties":false},"#
            + #"{"type":"object","properties":{"name":{"const":"g"},"arguments":{"type":"object"}},"required":["name","arguments"],"additionalProperties":false}]}"#)
        #expect(ToolCallConstraint.schema(try Self.request(#"{"tools": [\#(Self.weather)]}"#)) == nil)
    }

    @Test func messagesCarryCallsAndResults() throws {
        let messages = try ChatMessages.parse(.array([
            ["role": "user", "content": "Weather?"],
            ["role": "assistant", "content": .null, "tool_calls": [[
                "id": "call_9", "type": "function",
                "function": ["name": "get_weather", "arguments": .string(#"{"b": 1, "a": 2}"#)],
            ]]],
            ["role": "tool", "tool_call_id": "call_9", "content": "sunny"],
        ]))
        #expect(messages[1].content == "" && messages[1].toolCalls.first?.arguments == .object([("b", 1), ("a", 2)]))
        #expect(messages[2] == ChatMessage(role: "tool", content: "sunny", toolCallID: "call_9", name: "get_weather"))
        #expect(throws: OpenAIError.self) {
            try ChatMessages.parse(.array([["role": "tool", "content": "x"]]))
        }
        let input = try ToolCallMessages.responsesInput([
            ["role": "user", "content": "Weather?"],
            ["type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"],
            ["type": "function_call_output", "call_id": "c1", "output": "sunny"],
        ])
        #expect(input.map(\.role) == ["user", "assistant", "tool"])
        #expect(input[2].name == "get_weather" && input[1].toolCalls.map(\.id) == ["c1"])
    }
}
