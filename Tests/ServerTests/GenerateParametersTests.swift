import Testing
@testable import Server
import Model

@Suite struct GenerateParametersTests {
    func parse(_ json: String) throws(GenerateParameters.Invalid) -> GenerateParameters {
        try GenerateParameters(json: Array(json.utf8))
    }

    func refusal(_ json: String) -> String? {
        do { _ = try parse(json); return nil } catch { return error.message }
    }

    @Test func defaultsAreDesignMDs() throws {
        let p = try parse(#"{"prompt":"Hi"}"#)
        #expect(p.input == .prompt("Hi") && p.sessionID == nil && p.maxTokens == 256 && p.stream && !p.ignoreEOS && p.stop.isEmpty)
        #expect(p.sampling.temperature == 0.8 && p.sampling.topK == 40 && p.sampling.topP == 0.95 && p.sampling.minP == 0.05)
        #expect(p.sampling.repeatPenalty == 1 && p.sampling.seed == nil)
    }

    @Test func everyFieldIsRead() throws {
        let p = try parse(#"{"messages":[{"role":"user","content":"Hi"}],"session_id":"s-1.a_b","max_tokens":8,"temperature":0,"top_k":5,"top_p":0.5,"min_p":0.1,"repeat_penalty":1.1,"seed":7,"stop":["\n\n","END"],"stream":false,"ignore_eos":true}"#)
        #expect(p.input == .messages([ChatMessage(role: "user", content: "Hi")]))
        #expect(p.sessionID == "s-1.a_b" && p.maxTokens == 8 && p.sampling.temperature == 0 && p.sampling.topK == 5)
        #expect(p.sampling.topP == 0.5 && p.sampling.minP == Float(0.1) && p.sampling.repeatPenalty == Float(1.1) && p.sampling.seed == 7)
        #expect(p.stop == ["\n\n", "END"] && !p.stream && p.ignoreEOS)
    }

    @Test func errorsNameTheField() {
        #expect(refusal("nope") == "the body is not valid JSON (byte 1: expected null)")
        #expect(refusal("[1]") == "the body must be a JSON object, not an array")
        #expect(refusal("{}") == "prompt or messages is required")
        #expect(refusal(#"{"prompt":"a","messages":[]}"#) == "give either prompt or messages, not both")
        #expect(refusal(#"{"prompt":3}"#) == "prompt must be a string, not a number")
        #expect(refusal(#"{"prompt":"a","max_tokens":0}"#) == "max_tokens must be between 1 and 8192")
        #expect(refusal(#"{"prompt":"a","max_tokens":"9"}"#) == "max_tokens must be an integer, not a string")
        #expect(refusal(#"{"prompt":"a","max_tokens":2.5}"#) == "max_tokens must be an integer, not a number")
        #expect(refusal(#"{"prompt":"a","temperature":-1}"#) == "temperature must be between 0.0 and 100.0")
        #expect(refusal(#"{"prompt":"a","session_id":"a b"}"#) == "session_id must be 1 to 128 characters of A-Z, a-z, 0-9, '_', '.' and '-'")
        #expect(refusal(#"{"prompt":"a","stop":["a","b","c","d","e"]}"#) == "stop takes at most 4 strings, not 5")
        #expect(refusal(#"{"prompt":"a","stream":"yes"}"#) == "stream must be true or false, not a string")
        #expect(refusal(#"{"prompt":"a","tempreature":1}"#) == "unknown field 'tempreature'")
        #expect(refusal(#"{"messages":[{"role":"robot","content":"x"}]}"#) == "messages[0].role must be system, user or assistant")
        #expect(refusal(#"{"prompt":"a","seed":-1}"#) == "seed must be between 0 and \(Int.max)")
    }

    /// One parser reads every route's body: a repeated key, deep nesting and
    /// a lone surrogate mean the same on the native and the OpenAI routes.
    @Test func everyRouteReadsABodyAlike() throws {
        let repeated = #"{"prompt":"a","stream":true,"prompt":"b","stream":false}"#
        let p = try parse(repeated)
        #expect(p.input == .prompt("b") && !p.stream)
        let fields = try OpenAIFields(body: Array(repeated.utf8))
        #expect(try fields.string("prompt") == "b")
        #expect(try fields.bool("stream") == false)

        let deep = #"{"prompt":"a","response_format":{"type":"json_schema","json_schema":{"schema":{"type":"object"}}},"x":"#
            + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + "}"
        #expect(refusal(deep)?.hasSuffix("nested deeper than 256)") == true)
        #expect(throws: OpenAIError.self) { try OpenAIFields(body: Array(deep.utf8)) }

        let surrogate = #"{"prompt":"\ud800"}"#
        #expect(refusal(surrogate) == #"the body is not valid JSON (byte 11: a lone surrogate \uD800)"#)
        #expect(throws: OpenAIError.self) { try OpenAIFields(body: Array(surrogate.utf8)) }
    }
}
