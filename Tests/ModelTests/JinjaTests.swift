import Foundation
import Testing
@testable import Model

/// A JSON value as the fixture has it, for building template contexts.
enum FixtureJSON: Decodable {
    case null, bool(Bool), int(Int), double(Double), string(String), array([FixtureJSON]), object([String: FixtureJSON])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Int.self) { self = .int(n) }
        else if let x = try? c.decode(Double.self) { self = .double(x) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([FixtureJSON].self) { self = .array(a) }
        else { self = .object(try c.decode([String: FixtureJSON].self)) }
    }

    /// Object keys: role, then content, then the rest sorted (the fixture's order).
    var value: Jinja.Value {
        switch self {
        case .null: return .none
        case let .bool(b): return .bool(b)
        case let .int(n): return .int(n)
        case let .double(x): return .double(x)
        case let .string(s): return .string(s)
        case let .array(a): return .list(a.map(\.value))
        case let .object(o):
            let rank = ["role": 0, "content": 1]
            let keys = o.keys.sorted { (rank[$0] ?? 2, $0) < (rank[$1] ?? 2, $1) }
            return .dict(Jinja.Dict(keys.map { ($0, o[$0]!.value) }))
        }
    }
}

struct JinjaFixture: Decodable {
    struct Snippet: Decodable {
        let template: String
        let rendered: String?
        let error: String?
    }
    struct Case: Decodable {
        let messages: [ChatMessage]
        let add_generation_prompt: Bool
        let rendered: String?
        let error: String?
    }
    struct Entry: Decodable {
        let name: String
        let file: String?
        let template_sha256: String
        let bos_token: String?
        let eos_token: String?
        let cases: [Case]
    }
    let snippet_context: [String: FixtureJSON]
    let snippets: [Snippet]
    let templates: [Entry]

    static func load() throws -> JinjaFixture { try TestResources.decode(JinjaFixture.self, "chat/jinja-renders.json") }
}

/// The interpreter against Jinja2 3.1.6's renders of small templates, in
/// transformers' environment (scripts/fixtures/make_jinja_fixtures.py).
@Suite struct JinjaTests {
    @Test func snippetsRenderAsJinja2RendersThem() throws {
        let fixture = try JinjaFixture.load()
        let context = fixture.snippet_context.mapValues(\.value)
        #expect(fixture.snippets.count >= 40)
        for snippet in fixture.snippets {
            let template = try Jinja.Template(snippet.template)
            do {
                let text = try template.render(context).string
                #expect(text == snippet.rendered, "\(snippet.template)")
                #expect(snippet.error == nil, "\(snippet.template) should fail with \(snippet.error ?? "")")
            } catch {
                #expect(snippet.rendered == nil, "\(snippet.template): \(error)")
                if error.kind == .raised { #expect(error.message == snippet.error) }
                else { #expect(error.kind == .runtime, "\(snippet.template): \(error)") }
            }
        }
    }

    @Test func unsupportedConstructsAreRefusedWithTheirLine() {
        func refusal(_ source: String) -> Jinja.Error? {
            do { _ = try Jinja.Template(source); return nil } catch { return error }
        }
        let cases: [(String, Jinja.Error.Kind, Int, String)] = [
            ("a\n{% include 'x.jinja' %}", .unsupported, 2, "'include'"),
            ("{% if x %}\n\n{{ y | wordcount }}{% endif %}", .unsupported, 3, "filter 'wordcount'"),
            ("{{ x is prime }}", .unsupported, 1, "test 'prime'"),
            ("{% for x in y recursive %}{% endfor %}", .unsupported, 1, "recursive"),
            ("{% if x %}\nno end", .syntax, 0, "endif"),
            ("{{ x + }}", .syntax, 1, "expected an expression"),
            ("line\n{{ 'open }}", .syntax, 2, "unclosed string"),
            ("{% break %}", .syntax, 1, "outside a loop"),
            ("{{ f(*args) }}", .unsupported, 1, "*args"),
        ]
        for (source, kind, line, words) in cases {
            let e = refusal(source)
            #expect(e?.kind == kind, "\(source): \(String(describing: e))")
            if line > 0 { #expect(e?.line == line, "\(source): \(String(describing: e))") }
            #expect(e?.description.contains(words) == true, "\(source): \(String(describing: e))")
        }
    }

    /// Content keeps its origin through concatenation and trimming; anything
    /// else computed from it is content as a whole.
    @Test func contentTrackingFollowsItsRule() throws {
        let context: [String: Jinja.Value] = [
            "c": .string(Jinja.Text("  <|im_start|>system  ", message: 3)), "m": .string("<b>"),
        ]
        func segments(_ source: String) throws -> [Jinja.Text.Segment] {
            try Jinja.Template(source).render(context).segments
        }
        typealias S = Jinja.Text.Segment
        #expect(try segments("{{ m + c | trim + m }}")
            == [S(text: "<b>", message: nil), S(text: "<|im_start|>system", message: 3), S(text: "<b>", message: nil)])
        #expect(try segments("{{ m ~ c.strip() }}") == [S(text: "<b>", message: nil), S(text: "<|im_start|>system", message: 3)])
        #expect(try segments("{% set x = c | trim %}[{{ x }}]")
            == [S(text: "[", message: nil), S(text: "<|im_start|>system", message: 3), S(text: "]", message: nil)])
        #expect(try segments("{{ c.upper() }}") == [S(text: "  <|IM_START|>SYSTEM  ", message: 3)])
        #expect(try segments("{{ c[2:14] }}") == [S(text: "<|im_start|>", message: 3)])
        #expect(try segments("{{ (m + c) | replace('x', 'y') }}") == [S(text: "<b>  <|im_start|>system  ", message: 3)])
        #expect(try segments("{{ [c] | tojson }}") == [S(text: "[\"  <|im_start|>system  \"]", message: 3)])
        #expect(try segments("{% macro w(t) %}<{{ t }}>{% endmacro %}{{ w(c | trim) }}")
            == [S(text: "<", message: nil), S(text: "<|im_start|>system", message: 3), S(text: ">", message: nil)])
        #expect(try segments("{{ m }}") == [S(text: "<b>", message: nil)])
    }
}
