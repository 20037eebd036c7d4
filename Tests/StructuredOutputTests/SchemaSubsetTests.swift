import Testing
@testable import StructuredOutput

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
        (#"{"type":"string","format":"date-time"}"#, "format", ""),
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

    @Test func anyOfNeedsAlternativesThatBeginApart() throws {
        // string and integer begin differently; integer and number overlap.
        #expect(try refusal(#"{"anyOf":[{"type":"string"},{"type":"integer"}]}"#) == nil)
        #expect(try refusal(#"{"anyOf":[{"type":"number"},{"type":"integer"}]}"#)?.keyword == "anyOf")
    }
}
