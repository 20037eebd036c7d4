/// A Jinja interpreter for chat templates: the subset of Jinja2 that model
/// repositories' `chat_template`s use, with the environment Hugging Face
/// transformers renders them in (`trim_blocks`, `lstrip_blocks`, loop
/// controls, `raise_exception`, `strftime_now`). Anything outside the subset
/// is refused with its line when the template is parsed, never rendered
/// approximately.
public enum Jinja {}

extension Jinja {
    /// Why a template could not be parsed or rendered.
    public struct Error: Swift.Error, CustomStringConvertible, Equatable, Sendable {
        public enum Kind: Sendable, Equatable {
            /// The text is not valid Jinja.
            case syntax
            /// Valid Jinja that this interpreter does not implement.
            case unsupported
            /// An error Jinja2 raises as well (undefined values, type errors).
            case runtime
            /// The template called `raise_exception(message)`.
            case raised
        }

        public let kind: Kind
        public let message: String
        public let line: Int?

        public init(_ kind: Kind, _ message: String, line: Int? = nil) {
            self.kind = kind
            self.message = message
            self.line = line
        }

        public var description: String {
            guard let line, kind != .raised else { return message }
            return "line \(line): \(message)"
        }

        func at(line: Int) -> Error { self.line == nil ? Error(kind, message, line: line) : self }
    }
}
