extension Jinja {
    /// A token of an expression inside `{{ }}` or `{% %}`.
    struct Token: Equatable, Sendable {
        enum Kind: Equatable, Sendable {
            case name(String)
            case string(String)
            case integer(Int)
            case float(Double)
            case symbol(String)
        }

        let kind: Kind
        let line: Int

        var name: String? { if case let .name(n) = kind { n } else { nil } }
        func isSymbol(_ s: String) -> Bool { kind == .symbol(s) }
        func isName(_ s: String) -> Bool { kind == .name(s) }
    }

    /// The template cut into literal text and tags, whitespace control applied.
    enum Chunk: Sendable {
        case text(String)
        case output([Token], line: Int)
        case statement([Token], line: Int)
    }
}
