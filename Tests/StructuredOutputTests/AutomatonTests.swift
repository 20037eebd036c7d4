import JSONTree
import Testing
@testable import StructuredOutput

/// The byte automaton on hand-written texts: what each feature accepts and
/// refuses (the truth is the JSON grammar and the schema's meaning), and the
/// shortest completion counted by hand.
@Suite struct AutomatonTests {
    func grammar(_ schema: String) throws -> JSONGrammar { try JSONGrammar(schema: JSON.parse(schema)) }

    /// Whether `text` is a complete output, a valid unfinished prefix, or refused.
    enum Verdict: Equatable { case complete, prefix, refused }

    func verdict(_ g: JSONGrammar, _ bytes: [UInt8]) -> Verdict {
        var s = GrammarState(g)
        guard s.advance(bytes) else { return .refused }
        return s.isAccepting ? .complete : .prefix
    }

    func check(_ schema: String, _ cases: [(String, Verdict)], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let g = try grammar(schema)
        for (text, expected) in cases {
            #expect(verdict(g, Array(text.utf8)) == expected, "\(schema) on \(text)", sourceLocation: sourceLocation)
        }
    }

    @Test func strings() throws {
        try check(#"{"type":"string"}"#, [
            (#""abc""#, .complete), (#""a\"b\\c\/\n\t\b\f\r""#, .complete), (#""\u00e9\u20AC""#, .complete),
            (#""é日本😀""#, .complete), (#""abc"#, .prefix), (#""\u12"#, .prefix), ("", .prefix),
            (#""\x""#, .refused), (#""\ud83d\ude00""#, .refused), (#""\uDFFF""#, .refused), ("abc", .refused),
            (#""abc" "#, .refused), (#" "abc""#, .refused), ("\"a\nb\"", .refused), (#""a""b""#, .refused),
        ])
        let g = try grammar(#"{"type":"string"}"#)
        // Overlong, surrogate, beyond U+10FFFF, stray continuation, and a truncated sequence.
        for bad: [UInt8] in [[0x22, 0xC0, 0x80], [0x22, 0xE0, 0x80, 0x80], [0x22, 0xED, 0xA0, 0x80], [0x22, 0xF4, 0x90, 0x80, 0x80],
                             [0x22, 0x80], [0x22, 0xF5], [0x22, 0xC3, 0x22]] {
            #expect(verdict(g, bad) == .refused, "\(bad)")
        }
        #expect(verdict(g, [0x22, 0xF0, 0x9F, 0x98, 0x80, 0x22]) == .complete)
        #expect(verdict(g, [0x22, 0xF0, 0x9F]) == .prefix)
    }

    @Test func numbersAndIntegers() throws {
        try check(#"{"type":"integer"}"#, [
            ("0", .complete), ("-12", .complete), ("1234567890", .complete), ("-", .prefix),
            ("01", .refused), ("1.5", .refused), ("1e3", .refused), ("+1", .refused), ("--1", .refused), ("1 ", .refused),
        ])
        try check(#"{"type":"number"}"#, [
            ("1.5e-3", .complete), ("-0.0", .complete), ("1E+2", .complete), ("10", .complete), ("1.", .prefix),
            ("1e", .prefix), ("1e+", .prefix), (".5", .refused), ("1.e3", .refused), ("00", .refused), ("NaN", .refused),
        ])
    }

    @Test func literals() throws {
        try check(#"{"type":"boolean"}"#, [("true", .complete), ("false", .complete), ("tru", .prefix), ("truth", .refused)])
        try check(#"{"type":"null"}"#, [("null", .complete), ("nul", .prefix), ("nulll", .refused)])
        try check(#"{"enum":["a",1,12,null,{"k":[true]}]}"#, [
            (#""a""#, .complete), ("1", .complete), ("12", .complete), ("null", .complete), (#"{"k":[true]}"#, .complete),
            ("123", .refused), (#""b""#, .refused), ("2", .refused), (#"{"k": [true]}"#, .refused),
        ])
        try check(#"{"const":"x\"y"}"#, [(#""x\"y""#, .complete), (#""x"#, .prefix), (#""xy""#, .refused)])
        // enum filtered by type
        try check(#"{"type":"string","enum":["a",1]}"#, [(#""a""#, .complete), ("1", .refused)])
    }

    @Test func objectsInSchemaOrder() throws {
        let schema = #"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},"c":{"type":"boolean"}},"required":["a","c"],"additionalProperties":false}"#
        try check(schema, [
            (#"{"a":1,"c":true}"#, .complete), (#"{"a":1,"b":"x","c":false}"#, .complete),
            ("{ \"a\" : 1 ,\n  \"c\" : true }", .complete), (#"{"a":1"#, .prefix), (#"{"a":1,"#, .prefix),
            (#"{"c":true,"a":1}"#, .refused), (#"{"a":1}"#, .refused), (#"{"a":1,"d":1}"#, .refused),
            (#"{"a":"1"}"#, .refused), (#"{}"#, .refused), (#"{"a":1,"c":true,}"#, .refused), (#"{"a":1,"c":true} "#, .refused),
        ])
        try check(#"{"type":"object","properties":{"x":{"type":"null"}}}"#, [
            ("{}", .complete), (#"{"x":null}"#, .complete), (#"{"x":null,}"#, .refused),
        ])
        // Keys sharing a prefix.
        try check(#"{"properties":{"ab":{"type":"null"},"a":{"type":"null"}},"required":["a"]}"#, [
            (#"{"ab":null,"a":null}"#, .complete), (#"{"a":null}"#, .complete), (#"{"ab":null}"#, .refused),
        ])
    }

    @Test func whitespaceIsBounded() throws {
        let g = try grammar(#"{"type":"object"}"#)
        let limit = Int(GrammarState.maxWhitespaceRun)
        #expect(verdict(g, Array(("{" + String(repeating: " ", count: limit) + "}").utf8)) == .complete)
        #expect(verdict(g, Array(("{" + String(repeating: " ", count: limit + 1)).utf8)) == .refused)
        // The run starts again after a structural character.
        let ok = "{" + String(repeating: " ", count: limit) + "\"a\"" + String(repeating: "\n", count: limit) + ":1}"
        #expect(verdict(g, Array(ok.utf8)) == .complete)
    }

    @Test func arraysWithBounds() throws {
        try check(#"{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2}"#, [
            ("[1]", .complete), ("[1, 2]", .complete), ("[]", .refused), ("[1,2,", .refused), ("[1,", .prefix), ("[1,]", .refused),
        ])
        try check(#"{"type":"array","maxItems":0}"#, [("[]", .complete), ("[1]", .refused)])
        try check(#"{"type":"array"}"#, [("[]", .complete), (#"[1,"a",[null,{}],{"b":false}]"#, .complete)])
    }

    @Test func mapsUnionsAndReferences() throws {
        try check(#"{"type":"object","additionalProperties":{"type":"integer"}}"#, [
            (#"{"x":1,"y":2}"#, .complete), ("{}", .complete), (#"{"x":"s"}"#, .refused),
        ])
        try check(#"{"type":["integer","null"]}"#, [("5", .complete), ("null", .complete), ("\"5\"", .refused)])
        try check(#"{"anyOf":[{"type":"string"},{"type":"array","items":{"type":"boolean"}}]}"#, [
            ("\"s\"", .complete), ("[true]", .complete), ("1", .refused),
        ])
        try check(##"{"$defs":{"p":{"type":"object","properties":{"n":{"$ref":"#/$defs/n"}},"required":["n"]},"n":{"type":"number"}},"type":"array","items":{"$ref":"#/$defs/p"}}"##, [
            (#"[{"n":1.5},{"n":2}]"#, .complete), (#"[{}]"#, .refused),
        ])
    }

    @Test func jsonObjectModeAcceptsAnyObjectOnly() {
        let g = JSONGrammar.anyObject
        #expect(verdict(g, Array(#"{"a":[1,{"b":null}],"c":"d","e":-2.5e3}"#.utf8)) == .complete)
        #expect(verdict(g, Array("[1]".utf8)) == .refused)
        #expect(verdict(g, Array(#""s""#.utf8)) == .refused)
    }

    /// Shortest completions counted by hand.
    @Test func shortestCompletion() throws {
        let object = try grammar(#"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},"c":{"type":"boolean"}},"required":["a","c"]}"#)
        func distance(_ g: JSONGrammar, _ text: String) -> Int {
            var s = GrammarState(g)
            let advanced = s.advance(Array(text.utf8))
            #expect(advanced, "\(text)")
            return s.bytesToAccept
        }
        #expect(object.minimumOutputBytes == 16)  // {"a":0,"c":true}
        #expect(distance(object, "") == 16)
        #expect(distance(object, #"{"a":12"#) == 10)  // ,"c":true}
        #expect(distance(object, #"{"a":1,"b":"xy"#) == 11)  // ","c":true}
        #expect(distance(object, #"{"a":1,"#) == 9)  // "c":true}
        #expect(distance(object, #"{"a":1,""#) == 8)  // c":true}
        #expect(distance(object, #"{"a":1,"c":tr"#) == 3)  // ue}
        #expect(distance(object, #"{"a":1,"c":true}"#) == 0)
        #expect(distance(try grammar(#"{"type":"array","items":{"type":"string"},"minItems":2}"#), "") == 7)  // ["",""]
        #expect(distance(try grammar(#"{"type":"array","items":{"type":"string"},"minItems":2}"#), #"["a","#) == 3)  // ""]
        #expect(distance(try grammar(#"{"enum":["abc","de"]}"#), "") == 4)
        #expect(distance(try grammar(#"{"type":"string"}"#), #""a\u00"#) == 3)
        #expect(distance(try grammar(#"{"type":"number"}"#), "1.") == 1)
        #expect(distance(try grammar(#"{"type":"object","properties":{"o":{"type":"object","properties":{"x":{"type":"null"}},"required":["x"]}},"required":["o"]}"#), #"{"o":{"#) == 10)  // "x":null}}
        #expect(OutputConstraint.minimumTokens(object) == 17)
    }
}
