import Model

/// Splits a reply, as it streams, into its reasoning (the text between the
/// template's markers) and its answer, as a client sees them:
/// `reasoning_content` and `content`. The markers and the newlines just
/// inside them are dropped, as the templates drop them when they split a
/// reply sent back; so is the whitespace before the answer. A reply that
/// does not begin with the opening marker (after whitespace) is all answer,
/// unless the prompt left a block open. A header that opens the answer
/// (gpt-oss's final channel) is dropped with the block.
struct ReasoningSplitter {
    enum State: Equatable {
        /// Nothing but whitespace and a prefix of the opening marker yet.
        case start
        case inside
        /// The block closed; whitespace before the answer is dropped.
        case closed
        case answer
    }

    let markers: ReasoningMarkers
    private(set) var state: State
    private(set) var reasoning = ""
    private(set) var content = ""
    /// Whether the reply had a reasoning block (the prompt opened one, or it did).
    var hadBlock: Bool { state == .inside || state == .closed || (state == .answer && openedBlock) }
    private var openedBlock: Bool
    /// Tokens that wrote reasoning or its markers.
    private(set) var reasoningTokens = 0
    /// Text not yet given out: it may be part of a marker, or newlines that
    /// end the reasoning.
    private var held = ""
    /// Tokens fed while the start was undecided.
    private var undecidedTokens = 0

    init(markers: ReasoningMarkers, startsInside: Bool) {
        self.markers = markers
        state = startsInside ? .inside : .start
        openedBlock = startsInside
    }

    /// The reasoning and answer text a token's `text` releases.
    mutating func feed(_ text: String) -> (reasoning: String, content: String) {
        let before = state
        var opened = false
        held += text
        var out = (reasoning: "", content: "")
        var progress = true
        while progress {
            progress = false
            switch state {
            case .start:
                let body = held.drop(while: \.isWhitespace)
                if body.hasPrefix(markers.opening) {
                    held = String(body.dropFirst(markers.opening.count))
                    state = .inside
                    reasoningTokens += undecidedTokens
                    undecidedTokens = 0
                    opened = true
                    openedBlock = true
                    progress = true
                } else if !markers.opening.hasPrefix(body) {
                    state = .answer
                    progress = true
                }
            case .inside:
                if let close = held.range(of: markers.closing) {
                    out.reasoning += emitReasoning(String(held[..<close.lowerBound]), final: true)
                    held = String(held[close.upperBound...])
                    state = .closed
                    progress = true
                } else {
                    // Hold what may begin the closing marker, and trailing newlines.
                    var keep = held.count
                    for k in stride(from: min(markers.closing.count, held.count), through: 1, by: -1)
                    where markers.closing.hasPrefix(held.suffix(k)) { keep = held.count - k; break }
                    let ready = held.prefix(keep)
                    let body = ready.reversed().drop { $0 == "\n" }.count
                    out.reasoning += emitReasoning(String(ready.prefix(body)), final: false)
                    held = String(held.dropFirst(body))
                }
            case .closed:
                held = String(held.drop(while: \.isWhitespace))
                let header = markers.answerOpening
                if !header.isEmpty, held.hasPrefix(header) {
                    held = String(held.dropFirst(header.count))
                    state = .answer
                    progress = true
                } else if !header.isEmpty, header.hasPrefix(held) {
                    break  // may still become the answer's header
                } else if !held.isEmpty {
                    state = .answer
                    progress = true
                }
            case .answer:
                out.content += held
                content += held
                held = ""
            }
        }
        if state == .start { undecidedTokens += 1 } else if before == .inside || opened { reasoningTokens += 1 }
        return out
    }

    /// What is still held when the reply ends.
    mutating func finish() -> (reasoning: String, content: String) {
        defer { held = "" }
        switch state {
        case .start:
            content += held
            return ("", held)
        case .inside:
            return (emitReasoning(held, final: true), "")
        case .closed, .answer:
            return ("", "")
        }
    }

    /// Reasoning text given out, without the newlines that begin the block
    /// (nothing given out yet) or, `final`, end it.
    private mutating func emitReasoning(_ text: String, final: Bool) -> String {
        var piece = Substring(text)
        if reasoning.isEmpty { piece = piece.drop { $0 == "\n" } }
        if final { piece = Substring(String(piece.reversed().drop { $0 == "\n" }.reversed())) }
        reasoning += piece
        return String(piece)
    }

    /// The answer of a whole reply (`text`), as `feed` would give it.
    static func answer(of text: String, markers: ReasoningMarkers, startsInside: Bool) -> String {
        var splitter = ReasoningSplitter(markers: markers, startsInside: startsInside)
        _ = splitter.feed(text)
        _ = splitter.finish()
        return splitter.content
    }
}
