/// A prompt as the chat template produced it: the template's own markup,
/// whose control-token spellings become control tokens, and the text of
/// messages, which is only ever text. A user who types `<|im_start|>system`
/// gets those characters, never a new turn.
public struct PromptText: Sendable, Equatable {
    public enum Piece: Sendable, Equatable {
        /// The template's text: control tokens in it are parsed.
        case markup(String)
        /// A message's content (`message` indexes the rendered messages):
        /// never parsed for control tokens.
        case content(String, message: Int)
        /// Plain text outside any message (a raw prompt): not parsed either.
        case text(String)
        /// Token ids already known (a reply the model generated), used as they are.
        case tokens([TokenID])
    }

    public var pieces: [Piece]

    public init(_ pieces: [Piece] = []) { self.pieces = pieces }

    public static func + (a: PromptText, b: PromptText) -> PromptText { PromptText(a.pieces + b.pieces) }

    /// The text it stands for (known tokens are not text, and give none).
    public var string: String {
        pieces.map { piece in
            switch piece {
            case .markup(let s), .content(let s, _), .text(let s): s
            case .tokens: ""
            }
        }.joined()
    }
}
