import Engine
import Foundation
import JSONTree
import Model
import StructuredOutput

/// The body of `POST /v1/generate` (docs/api.md, "Native"), validated: every
/// field has the right type and range, or the error names it.
public struct GenerateParameters: Sendable, Equatable {
    public enum Input: Sendable, Equatable {
        case prompt(String)
        case messages([ChatMessage])
    }

    public var input: Input
    public var sessionID: String?
    public var maxTokens = 256
    public var sampling = SamplingParameters()
    public var stop: [String] = []
    public var stream = true
    public var ignoreEOS = false
    /// A JSON schema the output is held to, members in the body's order
    /// (the order properties are written in).
    public var jsonSchema: JSON?
    /// `chat_template_kwargs`: further variables for the chat template.
    public var templateVariables: [String: JSON] = [:]
    /// `max_reasoning_tokens`: -1 no limit, nil the server's `reasoning_budget`.
    public var maxReasoningTokens: Int?

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    static let fields: Set<String> = ["prompt", "messages", "session_id", "max_tokens", "temperature", "top_k", "top_p",
                                      "min_p", "repeat_penalty", "seed", "stop", "stream", "ignore_eos",
                                      "json_schema", "chat_template_kwargs", "max_reasoning_tokens"]

    public init(json data: [UInt8]) throws(Invalid) {
        let o: JSON
        do { o = try JSON.parse(data) } catch {
            throw Invalid(message: "the body is not valid JSON (byte \(error.offset): \(error.reason))")
        }
        guard let members = o.objectValue else { throw Invalid(message: "the body must be a JSON object, not \(o.kindName)") }
        if let unknown = members.map(\.key).filter({ !Self.fields.contains($0) }).sorted().first {
            throw Invalid(message: "unknown field '\(unknown)'")
        }

        switch (o["prompt"], o["messages"]) {
        case (.some(.string(let prompt)), nil):
            guard !prompt.isEmpty else { throw Invalid(message: "prompt must not be empty") }
            input = .prompt(prompt)
        case (nil, .some(.array(let items))):
            guard !items.isEmpty else { throw Invalid(message: "messages must not be empty") }
            var messages: [ChatMessage] = []
            for (i, item) in items.enumerated() {
                guard let m = item.objectValue, case let .string(role)? = item["role"], case let .string(content)? = item["content"],
                      m.count == 2 else {
                    throw Invalid(message: "messages[\(i)] must be an object with string fields role and content")
                }
                guard ["system", "user", "assistant"].contains(role) else {
                    throw Invalid(message: "messages[\(i)].role must be system, user or assistant")
                }
                messages.append(ChatMessage(role: role, content: content))
            }
            input = .messages(messages)
        case (.some, .some):
            throw Invalid(message: "give either prompt or messages, not both")
        case (nil, nil):
            throw Invalid(message: "prompt or messages is required")
        case (.some(let p), nil):
            throw Invalid(message: "prompt must be a string, not \(p.kindName)")
        case (nil, .some(let m)):
            throw Invalid(message: "messages must be an array, not \(m.kindName)")
        }

        if let v = o["session_id"] {
            guard case let .string(id) = v else { throw Invalid(message: "session_id must be a string, not \(v.kindName)") }
            guard SessionKey.isValid(id) else {
                throw Invalid(message: "session_id must be 1 to 128 characters of A-Z, a-z, 0-9, '_', '.' and '-'")
            }
            sessionID = id
        }
        maxTokens = try Self.integer(o, "max_tokens", 1...8192) ?? maxTokens
        sampling.temperature = try Self.number(o, "temperature", 0...100) ?? sampling.temperature
        sampling.topK = try Self.integer(o, "top_k", 0...1_000_000) ?? sampling.topK
        sampling.topP = try Self.number(o, "top_p", 0...1) ?? sampling.topP
        sampling.minP = try Self.number(o, "min_p", 0...1) ?? sampling.minP
        sampling.repeatPenalty = try Self.number(o, "repeat_penalty", 0.01...100) ?? sampling.repeatPenalty
        if let seed = try Self.integer(o, "seed", 0...Int.max) { sampling.seed = UInt64(seed) }
        if let v = o["stop"] {
            guard case let .array(items) = v else { throw Invalid(message: "stop must be an array of strings, not \(v.kindName)") }
            guard items.count <= 4 else { throw Invalid(message: "stop takes at most 4 strings, not \(items.count)") }
            stop = try items.map { item throws(Invalid) -> String in
                guard case let .string(s) = item, !s.isEmpty else { throw Invalid(message: "stop must hold non-empty strings") }
                return s
            }
        }
        stream = try Self.bool(o, "stream") ?? stream
        ignoreEOS = try Self.bool(o, "ignore_eos") ?? ignoreEOS
        if let v = o["json_schema"] {
            guard case .object = v else { throw Invalid(message: "json_schema must be a JSON schema object, not \(v.kindName)") }
            jsonSchema = v
        }
        if let v = o["chat_template_kwargs"] {
            guard case let .object(members) = v else { throw Invalid(message: "chat_template_kwargs must be an object, not \(v.kindName)") }
            for (k, value) in members { templateVariables[k] = value }
        }
        maxReasoningTokens = try Self.integer(o, "max_reasoning_tokens", -1...Int(Int32.max))
    }

    private static func integer(_ o: JSON, _ key: String, _ range: ClosedRange<Int>) throws(Invalid) -> Int? {
        guard let v = o[key] else { return nil }
        guard let i = v.intValue else { throw Invalid(message: "\(key) must be an integer, not \(v.kindName)") }
        guard range.contains(i) else { throw Invalid(message: "\(key) must be between \(range.lowerBound) and \(range.upperBound)") }
        return i
    }

    private static func number(_ o: JSON, _ key: String, _ range: ClosedRange<Float>) throws(Invalid) -> Float? {
        guard let v = o[key] else { return nil }
        guard let d = v.doubleValue else { throw Invalid(message: "\(key) must be a number, not \(v.kindName)") }
        let x = Float(d)
        guard range.contains(x) else { throw Invalid(message: "\(key) must be between \(range.lowerBound) and \(range.upperBound)") }
        return x
    }

    private static func bool(_ o: JSON, _ key: String) throws(Invalid) -> Bool? {
        guard let v = o[key] else { return nil }
        guard case let .bool(b) = v else { throw Invalid(message: "\(key) must be true or false, not \(v.kindName)") }
        return b
    }
}
