import Foundation
import JSONTree
import Testing
import TestSupport

/// JSON against Python's json module, the reference for what a client's
/// body means: the same documents accepted and refused, the same members
/// (the last of repeated keys, at the first one's place), the same text
/// written back. Number text is kept as written, where Python rewrites it
/// (`1.50` -> `1.5`), so the compared documents write numbers canonically.
@Suite struct JSONTests {
    static let documents = [
        #"{"a": 1, "b": [true, false, null], "c": {"d": "e"}}"#,
        #"{"a": 1, "b": 2, "a": 3}"#,
        #"{"x": {"k": 1}, "x": {"k": 2, "k": 3}, "y": [], "z": {}}"#,
        #" [ "\u00e9\ud83d\ude00\n\"\\\/\b\f\r\t\u0001" , -0.5, 12, 1e+300 ] "#,
        #""é😀 \u2028""#,
        #"{"": "", "a b": "\u0000"}"#,
        "[" + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "]",
        "{" + (0..<40).map { #""k\#($0 % 25)": \#($0)"# }.joined(separator: ",") + "}",
    ]

    static let invalid = ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"\\x\"", "\"a\nb\"", "tru", "{} x", "[1 2]",
                          "{\"a\":1,}", "'a'", "[.5]", "[1e]", "{\"a\"}", "\"\\u12\"", "[-01]"]

    /// Python's verdict on each document: its compact `json.dumps`, or "ERROR".
    static func python(_ documents: [String]) throws -> [String] {
        let script = """
        import json, sys
        for text in json.load(sys.stdin):
            try:
                print(json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":")))
            except ValueError:
                print("ERROR")
        """
        let result = try Subprocess.run("/usr/bin/env", ["python3", "-c", script],
                                        input: Data(JSON.array(documents.map { .string($0) }).serializedBytes))
        #expect(result.status == 0, "\(result.error)")
        return result.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    @Test func readsAndWritesAsPythonDoes() throws {
        let expected = try Self.python(Self.documents + Self.invalid)
        try #require(expected.count == Self.documents.count + Self.invalid.count)
        for (text, want) in zip(Self.documents + Self.invalid, expected) {
            let got: String
            do { got = try JSON.parse(text).serialized } catch { got = "ERROR" }
            #expect(got == want, "\(text.debugDescription)")
        }
    }

    @Test func repeatedKeysKeepTheLastValueAtTheFirstPlace() throws {
        let value = try JSON.parse(#"{"a": 1, "b": 2, "a": 3}"#)
        #expect(value.objectValue?.map(\.key) == ["a", "b"])
        #expect(value["a"] == 3)
    }

    @Test func keepsNumberText() throws {
        let value = try JSON.parse(#"[1.50, 1E2, -0, 12345678901234567890]"#)
        #expect(value.serialized == "[1.50,1E2,-0,12345678901234567890]")
        #expect(value.arrayValue?.map(\.intValue) == [nil, 100, 0, nil])
        #expect(value.arrayValue?[0].doubleValue == 1.5)
    }

    @Test func nestsTo256Levels() throws {
        let deepest = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
        #expect(throws: Never.self) { try JSON.parse(deepest) }
        let deeper = "[" + deepest + "]"
        #expect(throws: JSONSyntaxError.self) { try JSON.parse(deeper) }
    }

    /// Python keeps a lone surrogate in a str; a Swift string cannot hold
    /// one, so it is an error (never a silently changed text).
    @Test func refusesLoneSurrogatesAndBadUTF8() {
        for bad in [#""\ud800""#, #""\udc00x""#, #""\ud800\u0041""#] {
            #expect(throws: JSONSyntaxError.self, "\(bad)") { try JSON.parse(bad) }
        }
        #expect(throws: JSONSyntaxError.self) { try JSON.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func buildsInOrderAndEdits() {
        var object: JSON = ["z": 1, "a": "x", "m": [true, .null, 2.5]]
        object["a"] = nil
        object["n"] = JSON(Float(0.1))
        object["z"] = JSON(Double.nan)
        #expect(object.serialized == #"{"z":null,"m":[true,null,2.5],"n":0.1}"#)
        #expect(JSON.quoted("a\"\u{1}é") == #""a\"\u0001é""#)
    }

    @Test func countsDocuments() throws {
        let before = JSON.documentsParsed
        _ = try JSON.parse("{}")
        #expect(JSON.documentsParsed >= before + 1)
    }
}
