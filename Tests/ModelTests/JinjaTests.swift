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
    /// The instant the script's `strftime_now` formats (a naive datetime there, UTC here).
    struct Clock: Decodable {
        let utc: String
        let unix: Int
    }
    let clock: Clock
    let snippet_context: [String: FixtureJSON]
    let snippets: [Snippet]
    let templates: [Entry]

    var now: Date { Date(timeIntervalSince1970: TimeInterval(clock.unix)) }

    static func load() throws -> JinjaFixture { try TestResources.decode(JinjaFixture.self, "chat/jinja-renders.json") }
}

/// The interpreter against Jinja2 3.1.6's renders of small templates, in
/// transformers' environment (scripts/fixtures/make_jinja_fixtures.py).
@Suite struct JinjaTests {
    @Test func snippetsRenderAsJinja2RendersThem() throws {
        let fixture = try JinjaFixture.load()
        let context = fixture.snippet_context.mapValues(\.value)
        #expect(fixture.snippets.count >= 63)
        for snippet in fixture.snippets {
            let template = try Jinja.Template(snippet.template)
            do {
                let text = try template.render(context, now: fixture.now).string
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
            // glibc would copy an unknown directive into the prompt; a literal format is checked at load.
            ("{% if x %}\n{{ strftime_now('%d %Q') }}{% endif %}", .unsupported, 2, "'%Q'"),
            ("{{ strftime_now('%Y %') }}", .unsupported, 1, "lone '%'"),
        ]
        for (source, kind, line, words) in cases {
            let e = refusal(source)
            #expect(e?.kind == kind, "\(source): \(String(describing: e))")
            if line > 0 { #expect(e?.line == line, "\(source): \(String(describing: e))") }
            #expect(e?.description.contains(words) == true, "\(source): \(String(describing: e))")
        }
    }

    /// Found only when rendering: refused, never approximated (Python pads,
    /// converts or looks up attributes here).
    @Test func formatRefusesFieldsItDoesNotImplement() throws {
        for field in ["{:>3}", "{!r}", "{0.real}", "{0[0]}"] {
            let template = try Jinja.Template("{{ '\(field)'.format(1) }}")
            #expect(throws: Jinja.Error(.unsupported, "str.format: the field \(field) is not supported (only {}, {0} and {name})", line: 1)) {
                try template.render([:])
            }
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

/// `strftime_now` and its clock, beyond the fixture's one instant.
@Suite struct JinjaStrftimeTests {
    static func date(_ iso: String) throws -> Date {
        try #require(ISO8601DateFormatter().date(from: iso + "Z"))
    }

    /// Expected texts are Python 3.11's on Linux (glibc, C locale):
    /// `datetime(2024, 12, 31, 0, 0, 0).strftime(format)` and
    /// `datetime(2023, 1, 1, 12, 30, 59).strftime(format)`.
    @Test func directivesAtMidnightAndNoonMatchPython() throws {
        let format = "%a %A %b %B %h %d %e %H %I %j %m %M %p %S %y %Y %u %w %U %W %%|%c|%D|%F|%R|%T|%x|%X|[%Z%z]"
            + "|%-d %-m %-H %-I %-j %-M %-S %-y"
        let cases = [
            ("2024-12-31T00:00:00", "Tue Tuesday Dec December Dec 31 31 00 12 366 12 00 AM 00 24 2024 2 2 52 53 %"
                + "|Tue Dec 31 00:00:00 2024|12/31/24|2024-12-31|00:00|00:00:00|12/31/24|00:00:00|[]|31 12 0 12 366 0 0 24"),
            ("2023-01-01T12:30:59", "Sun Sunday Jan January Jan 01  1 12 12 001 01 30 PM 59 23 2023 7 0 01 00 %"
                + "|Sun Jan  1 12:30:59 2023|01/01/23|2023-01-01|12:30|12:30:59|01/01/23|12:30:59|[]|1 1 12 12 1 30 59 23"),
        ]
        for (iso, expected) in cases {
            #expect(try Jinja.Strftime(try Self.date(iso)).format(format) == expected, "\(iso)")
        }
    }

    /// A format only known when rendering is checked then, with the same error.
    @Test func aComputedFormatIsCheckedWhenRendered() throws {
        let template = try Jinja.Template("{% set f = '%Y-%Q' %}\n{{ strftime_now(f) }}")
        #expect(throws: Jinja.Error(.unsupported, "strftime_now: the directive '%Q' is not supported", line: 2)) {
            try template.render([:], now: Date(timeIntervalSince1970: 0))
        }
    }

    /// Llama 3.2 writes the clock's date; the system clock gives today's, in UTC.
    @Test func aChatTemplateWritesItsClocksDate() throws {
        let entry = try #require(try JinjaFixture.load().templates.first { $0.name == "llama-3.2" })
        let source = try ChatTemplateTests.source(entry)
        let hello = [ChatMessage(role: "user", content: "Hi")]
        let fixed = try ChatTemplate(source: source, clock: .fixed(try Self.date("2031-07-04T23:59:59")))
        #expect(try fixed.render(hello, addGenerationPrompt: true).contains("Today Date: 04 Jul 2031\n"))
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(secondsFromGMT: 0)!
        let before = Date()
        let text = try ChatTemplate(source: source).render(hello, addGenerationPrompt: true)
        let days = [before, Date()].map { d in
            let c = utc.dateComponents([.day, .month, .year], from: d)
            let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            return (c.day! < 10 ? "0" : "") + "\(c.day!) \(months[c.month! - 1]) \(c.year!)"
        }
        #expect(days.contains { text.contains("Today Date: \($0)\n") }, "\(text)")
    }
}
