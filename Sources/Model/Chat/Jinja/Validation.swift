import Foundation

extension Jinja {
    /// Filters and tests are names Jinja2 resolves when it compiles a
    /// template; an unknown one is refused at load, with its line, even in a
    /// branch that a trial render would not reach. The same walk notes the
    /// variables the template reads and the attributes and keys it looks up.
    struct Validation {
        var line = 0
        var names: Set<String> = []
        var keys: Set<String> = []

        mutating func check(_ nodes: [Node]) throws(Error) {
            for node in nodes {
                switch node {
                case .text, .breakLoop, .continueLoop: break
                case let .output(e, at): line = at; try check(e)
                case let .conditional(branches, otherwise, at):
                    line = at
                    for b in branches { try check(b.condition); try check(b.body) }
                    try check(otherwise)
                case let .loop(l):
                    line = l.line
                    try check(l.iterable)
                    if let f = l.filter { try check(f) }
                    try check(l.body)
                    try check(l.otherwise)
                case let .assign(_, e, at): line = at; try check(e)
                case let .assignBlock(_, body, _): try check(body)
                case let .macro(m, at):
                    line = at
                    for p in m.parameters { if let d = p.defaultValue { try check(d) } }
                    try check(m.body)
                }
            }
        }

        private mutating func check(_ e: Expression) throws(Error) {
            switch e {
            case .literal: break
            case let .name(name): names.insert(name)
            case let .list(items), let .tuple(items): for x in items { try check(x) }
            case let .dict(entries): for x in entries { try check(x.key); try check(x.value) }
            case let .attribute(b, key): keys.insert(key); try check(b)
            case let .negate(b), let .plus(b), let .not(b): try check(b)
            case let .subscript(a, b):
                if case let .literal(.string(key)) = b { keys.insert(key) }
                try check(a); try check(b)
            case let .and(a, b), let .or(a, b), let .binary(_, a, b): try check(a); try check(b)
            case let .slice(b, start, stop, step): for x in [b, start, stop, step].compactMap({ $0 }) { try check(x) }
            case let .call(b, args):
                // A literal strftime_now format is checked at load, like a filter's name.
                if case .name("strftime_now") = b, case let .literal(.string(format))? = args.positional.first {
                    do { try Strftime.check(format) } catch { throw error.at(line: line) }
                }
                try check(b)
                try check(args)
            case let .filter(b, name, args):
                guard Renderer.filterNames.contains(name) else {
                    throw Error(.unsupported, "the filter '\(name)' is not supported", line: line)
                }
                try check(b)
                try check(args)
            case let .test(b, name, args, _):
                guard Renderer.testNames.contains(name) else {
                    throw Error(.unsupported, "the test '\(name)' is not supported", line: line)
                }
                try check(b)
                try check(args)
            case let .compare(first, chain): try check(first); for c in chain { try check(c.operand) }
            case let .conditional(a, b, c): try check(a); try check(b); if let c { try check(c) }
            }
        }

        private mutating func check(_ args: Arguments) throws(Error) {
            for x in args.positional { try check(x) }
            for k in args.keyword { try check(k.value) }
        }
    }

    /// A parsed template, ready to render any number of times.
    public struct Template: Sendable {
        let nodes: [Node]
        /// The variables the template reads (`tools`, `messages`...), and the
        /// attributes and literal keys it looks up (`message.tool_calls`,
        /// `message['tools']`).
        let names: Set<String>
        let keys: Set<String>

        /// Parses the whole template: a syntax error or an unsupported
        /// statement, filter or test is thrown here, with its line.
        public init(_ source: String) throws(Error) {
            nodes = try TemplateParser.parse(source)
            var validation = Validation()
            try validation.check(nodes)
            names = validation.names
            keys = validation.keys
        }

        /// Renders with `context`'s variables (plus `raise_exception`,
        /// `namespace`, `range` and `strftime_now`, which formats `now`).
        func render(_ context: [String: Value], now: Date = Date()) throws(Error) -> Text {
            try Renderer(context: context, now: now).render(nodes)
        }
    }
}
