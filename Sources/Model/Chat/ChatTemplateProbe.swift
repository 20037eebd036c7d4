/// The load-time checks of a chat template, on small probe conversations:
/// that it renders a plain conversation, where an assistant's turn ends,
/// and that a conversation's rendering begins with its earlier turns'.
struct Probe {
    static let system = ChatMessage(role: "system", content: "Be brief.")
    static let user = ChatMessage(role: "user", content: "Hello.")
    static let assistant = ChatMessage(role: "assistant", content: "Hi.")
    static let next = ChatMessage(role: "user", content: "Bye.")

    let template: ChatTemplate

    init(_ template: ChatTemplate) { self.template = template }

    /// The end-of-turn markup, whether a conversation continues by
    /// appending (rendering [user, assistant, user] begins with the
    /// rendering of [user] and the reply), and whether a system message
    /// keeps it so.
    func checked() throws -> (endOfTurn: String, appendsTurns: Bool, systemPrefixStable: Bool?) {
        let endOfTurn = try trial { () throws in try self.endOfTurn() }
        let appends = try prefixStable([]) == true
        return (endOfTurn, appends, try prefixStable([Self.system]))
    }

    /// A failure on a plain conversation means the template is unusable: a
    /// load error naming the construct and its line.
    private func trial<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let ChatTemplate.Error.rejected(e) { throw ChatTemplate.Error.invalid(e) }
    }

    /// Markup after the assistant's content that a closing render and a
    /// continuing one share, up to its first whitespace, less a tag it opens
    /// but does not close: Phi-4-mini writes `<|end|><|endoftext|>` and
    /// `<|end|><|user|>`, whose shared `<|end|><|` is not one token. ""
    /// when they share none.
    private func endOfTurn() throws -> String {
        let closed = try template.prompt([Self.user, Self.assistant], addGenerationPrompt: false)
        let continued = try template.prompt([Self.user, Self.assistant, Self.next], addGenerationPrompt: true)
        guard let a = closed.markup(after: 1), let b = continued.markup(after: 1) else {
            throw ChatTemplate.Error.invalid(Jinja.Error(.unsupported, "the template does not write an assistant message's content"))
        }
        let common = zip(a.unicodeScalars, b.unicodeScalars).prefix { $0 == $1 }.map(\.0)
        var shared = Array(common.prefix { !$0.isPythonWhitespace })
        if let open = shared.lastIndex(where: { $0 == "<" || $0 == "[" }),
           !shared[open...].contains(where: { $0 == (shared[open] == "<" ? ">" : "]") }) {
            shared.removeSubrange(open...)
        }
        // "" where no markup ends the turn (GLM writes the next turn's role
        // right after the content; Apertus closes a turn only when another
        // follows): the reply ends with the model's end-of-sequence token.
        return String(String.UnicodeScalarView(shared))
    }

    /// nil when the template refuses the history (raise_exception).
    private func prefixStable(_ history: [ChatMessage]) throws -> Bool? {
        do {
            let before = try template.render(history + [Self.user], addGenerationPrompt: true) + Self.assistant.content
            let after = try template.render(history + [Self.user, Self.assistant, Self.next], addGenerationPrompt: true)
            return after.hasScalarPrefix(before)
        } catch let ChatTemplate.Error.rejected(e) where e.kind == .raised && !history.isEmpty {
            return nil
        } catch let ChatTemplate.Error.rejected(e) {
            throw ChatTemplate.Error.invalid(e)
        }
    }
}

extension PromptText {
    /// The markup that follows the last piece of `message`'s content, up to
    /// the next content.
    func markup(after message: Int) -> String? {
        guard let last = pieces.lastIndex(where: { if case .content(_, message) = $0 { true } else { false } }) else { return nil }
        var out = ""
        for piece in pieces[(last + 1)...] {
            guard case let .markup(s) = piece else { break }
            out += s
        }
        return out
    }

    /// The pieces after the first `count` Unicode scalars.
    func droppingPrefix(scalars count: Int) -> PromptText {
        var remaining = count
        var out: [Piece] = []
        for piece in pieces {
            guard remaining > 0 else { out.append(piece); continue }
            let (text, rebuild): (String, (String) -> Piece) = switch piece {
            case let .markup(s): (s, { .markup($0) })
            case let .content(s, i): (s, { .content($0, message: i) })
            case let .text(s): (s, { .text($0) })
            case .tokens: ("", { _ in piece })
            }
            let n = text.unicodeScalars.count
            if n <= remaining { remaining -= n; continue }
            out.append(rebuild(String(String.UnicodeScalarView(text.unicodeScalars.dropFirst(remaining)))))
            remaining = 0
        }
        return PromptText(out)
    }

    /// Content pieces' message indices shifted; a piece of a message before
    /// the first stays text that is never parsed.
    func renumbered(by offset: Int) -> PromptText {
        PromptText(pieces.map { piece in
            guard case let .content(s, i) = piece else { return piece }
            return i + offset >= 0 ? .content(s, message: i + offset) : .text(s)
        })
    }

    /// Without `prefix` at the start of the first piece, when it is markup
    /// that begins so: what a tokenizer adds itself (BOS), or an end of turn
    /// the model already generated.
    public func droppingLeadingMarkup(_ prefix: String) -> PromptText {
        guard !prefix.isEmpty, case let .markup(first)? = pieces.first(where: { $0 != .markup("") }),
              first.hasScalarPrefix(prefix) else { return self }
        var rest = Array(pieces.drop { $0 == .markup("") })
        rest[0] = .markup(String(String.UnicodeScalarView(first.unicodeScalars.dropFirst(prefix.unicodeScalars.count))))
        return PromptText(rest)
    }
}

extension String {
    /// A prefix test by Unicode scalars, as Python compares strings (Swift's
    /// `hasPrefix` compares characters).
    func hasScalarPrefix(_ prefix: String) -> Bool { unicodeScalars.starts(with: prefix.unicodeScalars) }
}
