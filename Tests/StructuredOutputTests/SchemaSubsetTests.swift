import JSONTree
import Testing
@testable import StructuredOutput
import Model

/// A feature outside the subset is refused with an error naming it and
/// where it is, never silently dropped.
@Suite struct SchemaSubsetTests {
    func refusal(_ schema: String) throws -> SchemaError? {
        let parsed = try JSON.parse(schema)
        do {
            _ = try JSONGrammar(schema: parsed)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        (#"{"type":"object","properties":{"name":{"type":"string","pattern":"^a"}}}"#, "pattern", "/properties/name"),
        (#"{"type":"string","format":"email"}"#, "format", ""),
        (#"{"type":"object","properties":{"at":{"format":"uri"}}}"#, "format", "/properties/at"),
        (#"{"type":"string","minLength":1}"#, "minLength", ""),
        (#"{"type":"string","maxLength":9}"#, "maxLength", ""),
        (#"{"type":"integer","minimum":0}"#, "minimum", ""),
        (#"{"type":"number","maximum":1}"#, "maximum", ""),
        (#"{"type":"number","exclusiveMinimum":0}"#, "exclusiveMinimum", ""),
        (#"{"type":"integer","multipleOf":2}"#, "multipleOf", ""),
        (#"{"oneOf":[{"type":"string"},{"type":"null"}]}"#, "oneOf", ""),
        (#"{"allOf":[{"type":"string"}]}"#, "allOf", ""),
        (#"{"not":{"type":"string"}}"#, "not", ""),
        (#"{"if":{"type":"string"},"then":{"type":"string"}}"#, "if", ""),
        (#"{"type":"object","patternProperties":{"^a":{}}}"#, "patternProperties", ""),
        (#"{"type":"object","propertyNames":{"maxLength":3}}"#, "propertyNames", ""),
        (#"{"type":"object","minProperties":1}"#, "minProperties", ""),
        (#"{"type":"array","uniqueItems":true}"#, "uniqueItems", ""),
        (#"{"type":"array","prefixItems":[{}]}"#, "prefixItems", ""),
        (#"{"type":"array","contains":{"type":"null"}}"#, "contains", ""),
        (#"{"type":"array","items":[{"type":"null"}]}"#, "items", ""),
        (#"{"type":"object","properties":{"a":{"type":"array","items":{"unevaluatedProperties":false}}}}"#, "unevaluatedProperties", "/properties/a/items"),
        (##"{"type":"object","properties":{"next":{"$ref":"#"}}}"##, "$ref", "/properties/next"),
        (##"{"$defs":{"n":{"type":"object","properties":{"c":{"$ref":"#/$defs/n"}}}},"$ref":"#/$defs/n"}"##, "$ref", "/$defs/n/properties/c"),
        (#"{"$ref":"https://example.com/s.json"}"#, "$ref", ""),
        (##"{"$ref":"#/$defs/missing"}"##, "$ref", ""),
        (#"{"anyOf":[{"type":"object"},{"type":"object","properties":{"a":{}}}]}"#, "anyOf", ""),
        (#"{"type":["integer","string"],"anyOf":[{"type":"string"}]}"#, "type", ""),
        (#"{"type":"object","required":["a"],"additionalProperties":false}"#, "required", ""),
        (#"{"type":"array","minItems":3,"maxItems":2}"#, "maxItems", ""),
        (#"{"type":"strin"}"#, "type", ""),
        (#"{"enum":[]}"#, "enum", ""),
        (#"{"type":"integer","enum":["a"]}"#, "enum", ""),
        (#"false"#, "false", ""),
        (#"{"type":"object","properties":{"a~b/c":{"const":1,"minimum":0}}}"#, "minimum", "/properties/a~0b~1c"),
    ])
    func unsupportedFeatureIsNamed(schema: String, keyword: String, pointer: String) throws {
        let error = try #require(try refusal(schema), "\(schema) should be refused")
        #expect(error.keyword == keyword, "\(schema): \(error)")
        #expect(error.pointer == pointer, "\(schema): \(error)")
        #expect(error.description.contains("'\(keyword)'"))
    }

    @Test func annotationsAndSupportedKeywordsCompile() throws {
        for schema in [
            #"{"title":"t","description":"d","$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"a":{"type":"string","description":"x","default":"y","examples":["z"]}},"required":["a"],"additionalProperties":false}"#,
            ##"{"definitions":{"x":{"type":"null"}},"type":"array","items":{"$ref":"#/definitions/x"},"minItems":1,"maxItems":3}"##,
            #"{"anyOf":[{"type":"integer"},{"type":"null"},{"type":"object","properties":{"k":{"const":true}}}]}"#,
            #"{"type":["string","null"]}"#, "{}", "true",
        ] {
            #expect(try refusal(schema) == nil, "\(schema)")
        }
    }

    /// Every string a format's automaton lets through is valid for the
    /// format (Python's datetime and uuid judge, through SchemaValidator),
    /// and bytes that would make it invalid are refused.
    @Test(.enabled(if: SchemaValidator.enabled, "python3 with jsonschema is needed (pip install jsonschema)"),
          arguments: ["date", "time", "date-time", "uuid"])
    func formatsWriteOnlyValidStrings(format: String) throws {
        let schema = try JSON.parse(#"{"type":"string","format":"\#(format)"}"#)
        let grammar = try JSONGrammar(schema: schema)
        var random = SplitMix64(seed: 5)
        var cases: [SchemaValidator.Case] = []
        for walk in 0..<300 {
            var state = GrammarState(grammar), output: [UInt8] = []
            while !state.isAccepting {
                let allowed = (0...255).map(UInt8.init).filter { var s = state; return s.advance($0) }
                try #require(!allowed.isEmpty, "a dead end after \(output)")
                let byte = allowed[Int(random.next() % UInt64(allowed.count))]
                _ = state.advance(byte)
                output.append(byte)
            }
            #expect(output.count == grammar.minimumOutputBytes, "fixed length")
            cases.append(.init(schema: schema, output: output, label: "\(format) walk \(walk)"))
        }
        #expect(try SchemaValidator.failures(cases) == [])
        // Hand-picked wrong texts stop at their first wrong byte.
        let wrong = ["date": #""2024-13-01""#, "time": #""24:00:00Z""#, "date-time": #""2024-01-01 10:00:00Z""#,
                     "uuid": #""123e4567-e89b-12d3-a456-42661417400G""#][format]!
        var state = GrammarState(grammar)
        let advanced = state.advance(Array(wrong.utf8))
        #expect(!advanced, "\(wrong) let through")
    }

    @Test func anyOfNeedsAlternativesThatBeginApart() throws {
        // string and integer begin differently; integer and number overlap.
        #expect(try refusal(#"{"anyOf":[{"type":"string"},{"type":"integer"}]}"#) == nil)
        #expect(try refusal(#"{"anyOf":[{"type":"number"},{"type":"integer"}]}"#)?.keyword == "anyOf")
    }
}
