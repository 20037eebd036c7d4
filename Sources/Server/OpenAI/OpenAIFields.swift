import Engine
import Foundation
import JSONTree
import Model

/// A request body of the OpenAI routes, read field by field: a field of the
/// wrong type or range is a 400 naming it (`param`); fields kvserve does not
/// know are ignored, as OpenAI clients send many.
struct OpenAIFields {
    /// The body, parsed once: every field, tool and schema is read from it.
    let body: JSON

    init(body bytes: [UInt8]) throws(OpenAIError) {
        let value: JSON
        do { value = try JSON.parse(bytes) } catch {
            throw .invalid("the body is not valid JSON (byte \(error.offset): \(error.reason))", param: nil)
        }
        guard case .object = value else { throw .invalid("the body must be a JSON object, not \(value.kindName)", param: nil) }
        body = value
    }

    subscript(key: String) -> JSON? {
        if case .null? = body[key] { return nil }  // null means "not given"
        return body[key]
    }

    func string(_ key: String) throws(OpenAIError) -> String? {
        guard let v = self[key] else { return nil }
        guard case let .string(s) = v else { throw .invalid("\(key) must be a string, not \(v.kindName)", param: key) }
        return s
    }

    func bool(_ key: String) throws(OpenAIError) -> Bool? {
        guard let v = self[key] else { return nil }
        guard case let .bool(b) = v else { throw .invalid("\(key) must be true or false, not \(v.kindName)", param: key) }
        return b
    }

    func integer(_ key: String, _ range: ClosedRange<Int>) throws(OpenAIError) -> Int? {
        guard let v = self[key] else { return nil }
        guard let i = v.intValue else { throw .invalid("\(key) must be an integer, not \(v.kindName)", param: key) }
        guard range.contains(i) else {
            throw .invalid("\(key) must be between \(range.lowerBound) and \(range.upperBound), not \(i)", param: key)
        }
        return i
    }

    func number(_ key: String, _ range: ClosedRange<Float>) throws(OpenAIError) -> Float? {
        guard let v = self[key] else { return nil }
        guard let d = v.doubleValue else { throw .invalid("\(key) must be a number, not \(v.kindName)", param: key) }
        let x = Float(d)
        guard range.contains(x) else { throw .invalid("\(key) must be between \(range.lowerBound) and \(range.upperBound)", param: key) }
        return x
    }

    /// The sampling fields: OpenAI's, and kvserve's own (`top_k`, `min_p`,
    /// `repeat_penalty`). What a request leaves out keeps kvserve's defaults.
    func sampling() throws(OpenAIError) -> SamplingParameters {
        var s = SamplingParameters()
        s.temperature = try number("temperature", 0...2) ?? s.temperature
        s.topP = try number("top_p", 0...1) ?? s.topP
        s.topK = try integer("top_k", 0...1_000_000) ?? s.topK
        s.minP = try number("min_p", 0...1) ?? s.minP
        s.repeatPenalty = try number("repeat_penalty", 0.01...100) ?? s.repeatPenalty
        s.presencePenalty = try number("presence_penalty", -2...2) ?? 0
        s.frequencyPenalty = try number("frequency_penalty", -2...2) ?? 0
        if let seed = try integer("seed", Int.min...Int.max) { s.seed = UInt64(bitPattern: Int64(seed)) }
        return s
    }

    /// `stop`: a string or up to 4 strings.
    func stop() throws(OpenAIError) -> [String] {
        switch self["stop"] {
        case nil: return []
        case .string(let s)?: return s.isEmpty ? [] : [s]
        case .array(let items)?:
            guard items.count <= 4 else { throw .invalid("stop takes at most 4 strings, not \(items.count)", param: "stop") }
            return try items.map { item throws(OpenAIError) -> String in
                guard case let .string(s) = item, !s.isEmpty else { throw .invalid("stop must hold non-empty strings", param: "stop") }
                return s
            }
        case let v?: throw .invalid("stop must be a string or an array of strings, not \(v.kindName)", param: "stop")
        }
    }

    /// `n` (and `best_of`) may only ask for the one choice kvserve makes.
    func requireOneChoice() throws(OpenAIError) {
        for key in ["n", "best_of"] {
            if let n = try integer(key, 1...128), n != 1 { throw .invalid("\(key) must be 1: kvserve generates one choice per request", param: key) }
        }
    }

    /// Fields kvserve knows but cannot honour yet: present and not empty, a 400.
    func refuse(_ keys: [String]) throws(OpenAIError) {
        for key in keys {
            switch self[key] {
            case nil, .bool(false)?: continue
            case .array(let a)? where a.isEmpty: continue
            case .object(let o)? where o.isEmpty: continue
            case .string(let s)? where s.isEmpty || s == "none" || s == "auto" || s == "text": continue
            default: throw .invalid("\(key) is not supported by kvserve", param: key)
            }
        }
    }

    /// `stream_options.include_usage`.
    var includeUsage: Bool {
        self["stream_options"]?["include_usage"]?.boolValue ?? false
    }

    /// The request to the engine for `prompt`, the whole input: sampling,
    /// the token limit (`maxTokenKeys`) against the room the input leaves,
    /// and, with a session, reconciling the input with its history.
    func generation(_ prompt: [TokenID], maxTokenKeys: [String], sessionID: String?, tenant: Tenant,
                    model: ServedModel) throws(OpenAIError) -> GenerationRequest {
        let maxTokens = try maxTokens(maxTokenKeys, inputTokens: prompt.count,
                                      room: model.room(inputTokens: prompt.count, session: sessionID != nil))
        var generation = GenerationRequest(prompt: prompt, sessionID: sessionID.map(tenant.sessionKey), maxTokens: maxTokens,
                                           sampling: try sampling(), ignoreEOS: try bool("ignore_eos") ?? false)
        generation.history = sessionID == nil ? .append(expecting: nil) : .reconcile
        generation.cacheSalt = tenant.cacheSalt
        return generation
    }

    /// The session key: the `X-Session-Id` header, `prompt_cache_key` or `session_id`.
    func sessionID(header: String?) throws(OpenAIError) -> String? {
        do {
            return try SessionKey.resolve(header: header, body: try string("session_id"),
                                          others: [("prompt_cache_key", try string("prompt_cache_key").map(SessionKey.forCacheKey))])
        } catch let error as SessionKey.Invalid {
            throw .invalid(error.message, param: error.field)
        } catch let error as OpenAIError {
            throw error
        } catch {
            throw .invalid("\(error)", param: nil)
        }
    }

    /// `max_completion_tokens` or its older name `max_tokens` (or, for the
    /// Responses API, `max_output_tokens`), checked against the room the
    /// input leaves; omitted, it is all that room.
    func maxTokens(_ keys: [String], inputTokens: Int, room: Int) throws(OpenAIError) -> Int {
        var given: [(String, Int)] = []
        for key in keys { if let n = try integer(key, 1...Int(Int32.max)) { given.append((key, n)) } }
        guard room > 0 else {
            throw .invalid("the input is \(inputTokens) tokens, which leaves no room to generate within the context of \(inputTokens + room) tokens",
                           param: "messages", code: "context_length_exceeded")
        }
        guard let (key, n) = given.first else { return room }
        guard n <= room else {
            throw .invalid("\(key) is \(n), but the input is \(inputTokens) tokens and leaves room for at most \(room) within the context of \(inputTokens + room) tokens",
                           param: key, code: "context_length_exceeded")
        }
        return n
    }
}

extension OpenAIFields {
    /// `chat_template_kwargs`, the effort (`reasoning_effort`, or the
    /// Responses API's `reasoning.effort`: `effortPath`), `reasoning_format`
    /// and `max_reasoning_tokens` (-1: no limit; absent: the server's
    /// `reasoning_budget`).
    func reasoningOptions(effortPath: [String], defaultBudget: Int?) throws(OpenAIError) -> ReasoningOptions {
        var options = ReasoningOptions()
        switch self["chat_template_kwargs"] {
        case nil: break
        case .object(let members)?: for (k, v) in members { options.variables[k] = v }
        case let v?: throw .invalid("chat_template_kwargs must be an object, not \(v.kindName)", param: "chat_template_kwargs")
        }
        let param = effortPath.joined(separator: ".")
        switch effortPath.reduce(Optional(body), { $0?[$1] }) {
        case nil, .null?: break
        case .string(let effort)?: options.setEffort(effort)
        case let v?: throw .invalid("\(param) must be a string, not \(v.kindName)", param: param)
        }
        if let format = try string("reasoning_format") {
            guard ReasoningOptions.formats.contains(format) else {
                throw .invalid("reasoning_format must be one of \(ReasoningOptions.formats.sorted().joined(separator: ", ")), not '\(format)'",
                               param: "reasoning_format")
            }
            options.separate = format != "none"
        }
        let budget = try integer("max_reasoning_tokens", -1...Int(Int32.max))
        options.budget = budget.map { $0 < 0 ? nil : $0 } ?? defaultBudget
        return options
    }
}
