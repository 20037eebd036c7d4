import JSONTree
import Foundation

/// One chat turn. An assistant turn may call tools (`toolCalls`; its
/// content is then often empty), and a `tool` turn carries a call's result
/// (`toolCallID`, and the function's `name` for templates that write it).
/// An assistant turn sent back with its reasoning has `reasoningContent`,
/// the template's `reasoning_content` field.
public struct ChatMessage: Decodable, Sendable, Equatable {
    public var role: String
    /// A null content (an assistant turn that only calls tools) is "": templates concatenate content.
    public var content: String
    public var toolCalls: [ChatToolCall] = []
    public var toolCallID: String?
    public var name: String?
    public var reasoningContent: String?

    public init(role: String, content: String, toolCalls: [ChatToolCall] = [], toolCallID: String? = nil, name: String? = nil,
                reasoningContent: String? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.name = name
        self.reasoningContent = reasoningContent
    }

    private enum CodingKeys: String, CodingKey { case role, content }

    /// Fixtures of plain conversations: `role` and `content`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(role: try c.decode(String.self, forKey: .role), content: try c.decode(String.self, forKey: .content))
    }
}

/// A function call an assistant turn made: `arguments` as the template
/// sees them, the parsed JSON object (transformers' convention; templates
/// write them with `tojson`), or the string as sent when it is not JSON.
public struct ChatToolCall: Sendable, Equatable {
    public var id: String
    public var name: String
    public var arguments: JSON

    public init(id: String, name: String, arguments: JSON) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// A model's chat template (`tokenizer.chat_template`, Jinja source),
/// rendered by kvserve's Jinja interpreter exactly as Hugging Face
/// transformers renders it. The whole template is parsed when the model
/// loads and tried on a small conversation, so an unsupported construct is
/// an error then, never wrong text later.
public struct ChatTemplate: Sendable, Equatable {
    public let source: String
    let template: Jinja.Template
    /// The `bos_token` and `eos_token` variables: the vocabulary's texts.
    public let bosToken: String?
    public let eosToken: String?
    /// The markup the template writes right after an assistant message's
    /// content, without trailing whitespace (`<|im_end|>`, `<|eot_id|>`...).
    public let endOfTurn: String
    /// Whether a conversation continues by appending: rendering it with one
    /// more turn begins with its rendering up to the reply. A template that
    /// re-renders earlier turns (reasoning models drop earlier replies'
    /// reasoning, and their generation prompt's empty think block) does
    /// not: its requests are reconciled with the session as whole
    /// conversations, and a session keeps its turns as the next request
    /// renders them (`continuation`).
    public let appendsTurns: Bool
    /// Whether rendering a conversation that has a system message begins
    /// with the rendering of its earlier turns (nil: the template refuses
    /// system messages). Where it does not (Mistral moves the system prompt
    /// into the last user message), a session's follow-up leaves the system
    /// prompt where its first turn put it: see `continuation`.
    public let systemPrefixStable: Bool?
    /// The date `strftime_now` writes (Llama 3.2, Granite, gpt-oss): the
    /// system clock in UTC, unless a caller fixes it.
    public let clock: Jinja.Clock

    public static let metadataKey = "tokenizer.chat_template"

    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        /// The template cannot be used (found when it loads).
        case invalid(Jinja.Error)
        /// The template refused this conversation (`raise_exception`, or an
        /// error Jinja2 raises too): the request's fault, a 400.
        case rejected(Jinja.Error)

        public var description: String {
            switch self {
            case let .invalid(e): return "unusable chat template: \(e)"
            case let .rejected(e): return "the chat template rejected the conversation: \(e)"
            }
        }

        /// The template's own words for a rejected conversation.
        public var message: String {
            if case let .rejected(e) = self, e.kind == .raised { return e.message }
            return description
        }
    }

    public static func == (a: ChatTemplate, b: ChatTemplate) -> Bool {
        a.source == b.source && a.bosToken == b.bosToken && a.eosToken == b.eosToken
    }

    public init(source: String, bosToken: String? = nil, eosToken: String? = nil, clock: Jinja.Clock = .system) throws {
        let template: Jinja.Template
        do { template = try Jinja.Template(source) } catch { throw Error.invalid(error) }
        // The probe's renders compare with each other: one clock reading for all of them.
        let draft = ChatTemplate(source: source, template: template, bosToken: bosToken, eosToken: eosToken,
                                 endOfTurn: "", appendsTurns: true, systemPrefixStable: nil, clock: .fixed(clock.now()))
        let (endOfTurn, appendsTurns, systemPrefixStable) = try Probe(draft).checked()
        self.init(source: source, template: template, bosToken: bosToken, eosToken: eosToken,
                  endOfTurn: endOfTurn, appendsTurns: appendsTurns, systemPrefixStable: systemPrefixStable, clock: clock)
    }

    private init(source: String, template: Jinja.Template, bosToken: String?, eosToken: String?,
                 endOfTurn: String, appendsTurns: Bool, systemPrefixStable: Bool?, clock: Jinja.Clock) {
        self.source = source
        self.template = template
        self.bosToken = bosToken
        self.eosToken = eosToken
        self.endOfTurn = endOfTurn
        self.appendsTurns = appendsTurns
        self.systemPrefixStable = systemPrefixStable
        self.clock = clock
    }

    /// The prompt text for `messages`, exactly as the template renders it.
    /// `variables` are further template variables, as a request's
    /// `chat_template_kwargs` give them (Qwen 3's `enable_thinking`).
    public func render(_ messages: [ChatMessage], tools: [JSON]? = nil, variables: [String: JSON] = [:],
                       addGenerationPrompt: Bool) throws -> String {
        try prompt(messages, tools: tools, variables: variables, addGenerationPrompt: addGenerationPrompt).string
    }

    private func render(_ messages: [ChatMessage], variables: [String: JSON], addGenerationPrompt: Bool, at now: Date) throws -> String {
        try prompt(messages, tools: nil, variables: variables, addGenerationPrompt: addGenerationPrompt, at: now).string
    }

    /// The same text, with each message's content kept apart from the
    /// template's markup, so that only the markup is parsed for control
    /// tokens. Which characters count as content is `Jinja.Text`'s rule:
    /// what a message's content becomes by concatenation and trimming keeps
    /// its origin, and anything else computed from content is content too.
    ///
    /// `tools` are the function definitions in transformers' shape
    /// (`{"type": "function", "function": {...}}`): a template that uses the
    /// `tools` variable gets them; another gets them through
    /// `ToolPromptFallback`, which also turns tool calls and results into
    /// turns it can render.
    public func prompt(_ messages: [ChatMessage], tools: [JSON]? = nil, variables: [String: JSON] = [:],
                       addGenerationPrompt: Bool) throws -> PromptText {
        try prompt(messages, tools: tools, variables: variables, addGenerationPrompt: addGenerationPrompt, at: clock.now())
    }

    private func prompt(_ messages: [ChatMessage], tools: [JSON]?, variables: [String: JSON], addGenerationPrompt: Bool,
                        at now: Date) throws -> PromptText {
        let adapted = rendersTools ? ToolPromptFallback.Adapted(messages, tools: tools) : ToolPromptFallback.adapt(messages, tools: tools, systemMessages: systemPrefixStable != nil)
        var context = context(adapted.messages, tools: adapted.tools, addGenerationPrompt: addGenerationPrompt)
        for (name, value) in variables {
            // transformers refuses a keyword argument that repeats one of its own (a TypeError).
            guard context[name] == nil else {
                throw Error.rejected(Jinja.Error(.runtime, "the template variable '\(name)' is set by the server, not the request"))
            }
            // A client's values are content, like tool definitions: they belong to no message.
            context[name] = value.jinjaValue(message: ToolPromptFallback.toolsMessage)
        }
        let text: Jinja.Text
        do { text = try template.render(context, now: now) }
        catch { throw Error.rejected(error) }
        // Content is numbered by the caller's messages, not the adapted ones.
        return PromptText(text.segments.map { s in
            s.message.map { .content(s.text, message: $0 >= 0 ? adapted.origin[$0] : $0) } ?? .markup(s.text)
        })
    }

    /// Whether the template writes tool definitions and calls itself: it
    /// reads the `tools` variable or messages' `tool_calls`. Mentioning the
    /// word is not enough: Phi-4-mini's looks up a system message's own
    /// `'tools'` key, which no client sends, and would drop the request's
    /// tools, so it gets them through the fallback.
    public var rendersTools: Bool { template.names.contains("tools") || template.keys.contains("tool_calls") }

    /// The variables transformers' `apply_chat_template` gives a template.
    /// Every string a client wrote (content, call arguments, tool
    /// definitions) is content, never markup; the tool definitions belong to
    /// no message (index -1).
    private func context(_ messages: [ChatMessage], tools: [JSON]?, addGenerationPrompt: Bool) -> [String: Jinja.Value] {
        let list = messages.enumerated().map { i, m in
            var dict = Jinja.Dict([("role", .string(m.role)), ("content", .string(Jinja.Text(m.content, message: i)))])
            if !m.toolCalls.isEmpty {
                dict["tool_calls"] = .list(m.toolCalls.map { call -> Jinja.Value in
                    .dict(Jinja.Dict([("id", .string(Jinja.Text(call.id, message: i))), ("type", .string("function")),
                                      ("function", .dict(Jinja.Dict([("name", .string(Jinja.Text(call.name, message: i))),
                                                                     ("arguments", call.arguments.jinjaValue(message: i))])))]))
                })
            }
            if let id = m.toolCallID { dict["tool_call_id"] = .string(Jinja.Text(id, message: i)) }
            if let name = m.name { dict["name"] = .string(Jinja.Text(name, message: i)) }
            if let reasoning = m.reasoningContent { dict["reasoning_content"] = .string(Jinja.Text(reasoning, message: i)) }
            return Jinja.Value.dict(dict)
        }
        return [
            "messages": .list(list), "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": bosToken.map { .string($0) } ?? .none, "eos_token": eosToken.map { .string($0) } ?? .none,
            "tools": tools.map { .list($0.map { $0.jinjaValue(message: ToolPromptFallback.toolsMessage) }) } ?? .none,
            "documents": .none,
        ]
    }

    /// What continues a conversation already rendered and answered: the end
    /// of the assistant's turn (`closingTurn`: the reply did not end with the
    /// end-of-turn token, being cut by a length limit or a stop string), the
    /// separator after it, then `messages`.
    ///
    /// It is what follows a stand-in history (a user turn answered by the
    /// assistant) when `messages` are rendered after it. Where turns are
    /// appended, the load-time checks made sure the history's rendering is
    /// a prefix of that, and the continuation is the difference; `messages`
    /// are rendered as they follow that probe, so a template that moves the
    /// system prompt to the last user message (Mistral) leaves it in the
    /// turn that first had it: the session's history is never rewritten.
    /// Where turns are re-rendered, the session holds its turns as a
    /// follow-up renders them (`followUp`), and the continuation is what
    /// follows the stand-in reply's content.
    public func continuation(_ messages: [ChatMessage], closingTurn: Bool, variables: [String: JSON] = [:],
                             addGenerationPrompt: Bool) throws -> PromptText {
        let history = [Probe.user, Probe.assistant]
        // Both renders at one instant: a date that changed between them would break the prefix.
        let now = clock.now()
        let full = try prompt(history + messages, tools: nil, variables: variables, addGenerationPrompt: addGenerationPrompt, at: now)
        var rest: PromptText
        if appendsTurns {
            let before = try render([Probe.user], variables: variables, addGenerationPrompt: true, at: now) + Probe.assistant.content
            guard full.string.hasScalarPrefix(before) else {
                throw Error.rejected(Jinja.Error(.runtime, "these messages change how the earlier turns render, so they cannot follow them"))
            }
            rest = full.droppingPrefix(scalars: before.unicodeScalars.count)
        } else {
            guard let reply = full.pieces.lastIndex(where: { if case .content(_, 1) = $0 { true } else { false } }) else {
                throw Error.rejected(Jinja.Error(.runtime, "these messages drop the earlier turns, so they cannot follow them"))
            }
            rest = PromptText(Array(full.pieces[(reply + 1)...]))
        }
        rest = rest.renumbered(by: -history.count)
        if !closingTurn { rest = rest.droppingLeadingMarkup(endOfTurn) }
        return rest
    }

    public var kindDescription: String {
        var parts = ["Jinja, \(source.utf8.count) bytes", "end of turn \(endOfTurn.debugDescription)"]
        if source.contains("bos_token") { parts.append("writes bos_token") }
        if !appendsTurns { parts.append("re-renders earlier turns (requests are reconciled as whole conversations)") }
        switch systemPrefixStable {
        case false? where appendsTurns: parts.append("moves the system prompt (a session keeps it in its first turn)")
        case nil: parts.append("refuses system messages")
        default: break
        }
        return parts.joined(separator: "; ")
    }
}
