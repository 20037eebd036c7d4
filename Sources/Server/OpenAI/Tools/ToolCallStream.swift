import Foundation
import Model

/// Reads a reply as it is generated into content and tool calls, in the
/// Hermes/Qwen 2.5 form every prompt asks for: `<tool_call>{"name": ...,
/// "arguments": {...}}</tool_call>` (`"parameters"` is taken for
/// `"arguments"`), or a reply that is one bare JSON call, as Llama 3.1
/// writes them (a reply that begins with `{` is held back until it is
/// known not to be a call).
///
/// A call streams as it comes: once `{"name": "NAME", "arguments": ` is
/// seen its header goes out, then the arguments' text in fragments as
/// generated, until the arguments' JSON value closes. Text that may begin
/// a call is held back, as the stop-string filter holds back text that may
/// begin a stop string. The streamed and the whole reply's results are the
/// same object's, so they always agree.
///
/// A call whose name is not one of the tools, or whose JSON is not a call,
/// is content, as written. Calls past `maxCalls` are dropped.
final class ToolCallStream {
    enum Event: Equatable {
        case content(String)
        case callStarted(index: Int, id: String, name: String)
        case arguments(index: Int, String)
        case callEnded(index: Int)
    }

    struct Call: Equatable {
        let id: String
        let name: String
        /// The arguments' JSON text as the model wrote it.
        var arguments: String
    }

    static let open = "<tool_call>"
    static let close = "</tool_call>"

    private let names: Set<String>
    private let maxCalls: Int
    private let makeID: () -> String
    private(set) var calls: [Call] = []
    /// All content released so far.
    private(set) var content = ""

    private enum State {
        /// Plain text; `atStart`: nothing but whitespace so far.
        case text(atStart: Bool)
        /// After `<tool_call>` (or a bare `{` that begins the reply): waiting for the name.
        case header(marked: Bool)
        /// Inside the arguments' value.
        case arguments(JSONValueScanner)
        /// After the arguments: the call's closing `}` and `</tool_call>`.
        case trailer
        /// `maxCalls` calls made: the rest is dropped.
        case done
    }

    private var state = State.text(atStart: true)
    private var buffer = ""

    init(names: [String], maxCalls: Int = .max, makeID: @escaping () -> String = { OpenAIID.make("call_") }) {
        self.names = Set(names)
        self.maxCalls = maxCalls
        self.makeID = makeID
    }

    func feed(_ text: String) -> [Event] {
        buffer += text
        var events: [Event] = []
        while step(&events, final: false) {}
        return events
    }

    /// The end of the reply: what was held back is released.
    func finish() -> [Event] {
        var events: [Event] = []
        while step(&events, final: true) {}
        if case .arguments = state { events.append(.callEnded(index: calls.count - 1)) }
        if case let .header(marked) = state, !buffer.isEmpty || marked {
            emitContent((marked ? Self.open : "") + buffer, &events)
        } else if case .text = state, !buffer.isEmpty {
            emitContent(buffer, &events)
        }
        buffer = ""
        state = .done
        return events
    }

    private func emitContent(_ s: String, _ events: inout [Event]) {
        guard !s.isEmpty else { return }
        content += s
        events.append(.content(s))
    }

    /// One move of the state machine; false when it needs more text.
    private func step(_ events: inout [Event], final: Bool) -> Bool {
        switch state {
        case .done:
            buffer = ""
            return false
        case let .text(atStart):
            if let r = buffer.range(of: Self.open) {
                emitContent(String(buffer[..<r.lowerBound]), &events)
                buffer = String(buffer[r.upperBound...])
                state = .header(marked: true)
                return true
            }
            if atStart {
                let trimmed = buffer.drop { $0.isWhitespace }
                if trimmed.first == "{" {
                    buffer = String(trimmed)
                    state = .header(marked: false)
                    return true
                }
                if trimmed.isEmpty && !final { return false }
            }
            let keep = final ? 0 : Self.heldBack(buffer, Self.open)
            let released = String(buffer.dropLast(keep))
            emitContent(released, &events)
            buffer = String(buffer.suffix(keep))
            if !released.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { state = .text(atStart: false) }
            return false
        case let .header(marked):
            switch CallHeader.match(buffer) {
            case .incomplete:
                return false
            case let .matched(name, length) where names.contains(name):
                buffer = String(buffer.dropFirst(length))
                guard calls.count < maxCalls else { state = .done; return true }
                calls.append(Call(id: makeID(), name: name, arguments: ""))
                events.append(.callStarted(index: calls.count - 1, id: calls[calls.count - 1].id, name: name))
                state = .arguments(JSONValueScanner())
                return true
            case .matched, .mismatch:
                // Not a call we can stream: the marker and what follows are content.
                emitContent(marked ? Self.open : "", &events)
                state = .text(atStart: false)
                return true
            }
        case .arguments(var scanner):
            let (consumed, ended) = scanner.scan(buffer)
            let fragment = String(buffer.prefix(consumed))
            buffer = String(buffer.dropFirst(consumed))
            let index = calls.count - 1
            if !fragment.isEmpty, scanner.started {
                let text = calls[index].arguments.isEmpty ? String(fragment.drop { $0.isWhitespace }) : fragment
                if !text.isEmpty {
                    calls[index].arguments += text
                    events.append(.arguments(index: index, text))
                }
            }
            guard ended else { state = .arguments(scanner); return false }
            events.append(.callEnded(index: index))
            state = .trailer
            return true
        case .trailer:
            let rest = buffer.drop { $0.isWhitespace }
            if rest.isEmpty && !final { return false }
            var after = rest
            if after.first == "}" { after = after.dropFirst().drop { $0.isWhitespace } }
            if after.hasPrefix(Self.close) { after = after.dropFirst(Self.close.count) }
            else if !final, !after.isEmpty, Self.close.hasPrefix(after) { return false }
            else if !final, after.isEmpty, rest.first == "}" { return false }
            buffer = String(after)
            state = calls.count >= maxCalls ? .done : .text(atStart: false)
            return true
        }
    }

    /// How many characters at the end of `text` may begin `marker`.
    static func heldBack(_ text: String, _ marker: String) -> Int {
        for length in stride(from: min(marker.count - 1, text.count), to: 0, by: -1) where text.hasSuffix(marker.prefix(length)) {
            return length
        }
        return 0
    }
}

/// The start of a call, `{"name": "NAME", "arguments": ` with any
/// whitespace between its tokens.
enum CallHeader: Equatable {
    case incomplete
    case mismatch
    /// The name, and how many characters the header took.
    case matched(String, Int)

    static func match(_ text: String) -> CallHeader {
        let chars = Array(text)
        var i = 0
        func skipSpace() { while i < chars.count, chars[i].isWhitespace { i += 1 } }
        /// Consumes `token`: nil when the text ends inside it, false when it differs.
        func literal(_ token: String) -> Bool? {
            for c in token {
                guard i < chars.count else { return nil }
                guard chars[i] == c else { return false }
                i += 1
            }
            return true
        }
        skipSpace()
        for token in ["{", "\"name\""] {
            guard let ok = literal(token) else { return .incomplete }
            guard ok else { return .mismatch }
            skipSpace()
        }
        guard let colon = literal(":") else { return .incomplete }
        guard colon else { return .mismatch }
        skipSpace()
        guard let quote = literal("\"") else { return .incomplete }
        guard quote else { return .mismatch }
        var name = ""
        while true {
            guard i < chars.count else { return .incomplete }
            let c = chars[i]
            i += 1
            if c == "\"" { break }
            // Function names are plain: an escape is no name of ours.
            guard c != "\\", name.count < 64 else { return .mismatch }
            name.append(c)
        }
        skipSpace()
        guard let comma = literal(",") else { return .incomplete }
        guard comma else { return .mismatch }
        skipSpace()
        let start = i
        var key: Bool?
        for candidate in ["\"arguments\"", "\"parameters\""] {
            i = start
            key = literal(candidate)
            if key != false { break }
        }
        guard let found = key else { return .incomplete }
        guard found else { return .mismatch }
        skipSpace()
        guard let colon2 = literal(":") else { return .incomplete }
        guard colon2 else { return .mismatch }
        return .matched(name, i)
    }
}

/// Finds where one JSON value ends in text that arrives in pieces: it
/// follows brackets and strings only (the value's validity is the client's
/// to check, as OpenAI's documentation says of a model's arguments).
struct JSONValueScanner {
    private(set) var started = false
    private var depth = 0
    private var inString = false
    private var escaped = false
    /// A bare scalar (number, true, false, null) in progress.
    private var inScalar = false

    /// Consumes characters of `text` up to the value's end; returns how
    /// many it consumed and whether the value ended.
    mutating func scan(_ text: String) -> (Int, Bool) {
        var count = 0
        for c in text {
            if !started {
                if c.isWhitespace { count += 1; continue }
                started = true
            }
            if inScalar {
                if c == "," || c == "}" || c == "]" || c.isWhitespace { return (count, true) }
                count += 1
                continue
            }
            count += 1
            if inString {
                if escaped { escaped = false }
                else if c == "\\" { escaped = true }
                else if c == "\"" {
                    inString = false
                    if depth == 0 { return (count, true) }
                }
                continue
            }
            switch c {
            case "\"": inString = true
            case "{", "[": depth += 1
            case "}", "]":
                depth -= 1
                if depth <= 0 { return (count, true) }
            default:
                if depth == 0 { inScalar = true }
            }
        }
        return (count, false)
    }
}
