extension Jinja {
    /// Builds the statement tree from the lexer's chunks.
    struct TemplateParser {
        let chunks: [Chunk]
        var position = 0
        /// How deep in `for` loops the parser is (`break` needs one).
        var loopDepth = 0

        static let refused: Set<String> = ["call", "filter", "include", "import", "from", "extends", "block", "with",
                                           "raw", "autoescape", "do", "trans", "pluralize", "print"]

        static func parse(_ source: String) throws(Error) -> [Node] {
            var parser = TemplateParser(chunks: try TemplateLexer.chunks(of: source))
            let (nodes, end) = try parser.nodes(until: [])
            if let end { throw Error(.syntax, "unexpected '\(end.keyword)'", line: end.line) }
            return nodes
        }

        struct End {
            let keyword: String
            var tokens: ExpressionParser
            let line: Int
        }

        /// Nodes up to a statement whose keyword is in `terminators` (returned), or the end.
        mutating func nodes(until terminators: Set<String>) throws(Error) -> ([Node], End?) {
            var nodes: [Node] = []
            while position < chunks.count {
                let chunk = chunks[position]
                position += 1
                switch chunk {
                case let .text(t): nodes.append(.text(t))
                case let .output(tokens, line):
                    var p = ExpressionParser(tokens: tokens, line: line)
                    // `{{ a, b }}` prints the tuple, as in Jinja2.
                    let e = try p.tupleOrExpression()
                    try p.expectEnd()
                    nodes.append(.output(e, line: line))
                case let .statement(tokens, line):
                    var p = ExpressionParser(tokens: tokens, line: line)
                    guard let keyword = p.peek?.name else { throw Error(.syntax, "a statement must start with a keyword", line: line) }
                    p.advance()
                    if terminators.contains(keyword) { return (nodes, End(keyword: keyword, tokens: p, line: line)) }
                    if let node = try statement(keyword, &p, line: line) { nodes.append(node) }
                    else { nodes += try generation(line: line) }
                }
            }
            guard terminators.isEmpty else {
                throw Error(.syntax, "missing '\(terminators.sorted().last!)' before the end of the template", line: nil)
            }
            return (nodes, nil)
        }

        private mutating func statement(_ keyword: String, _ p: inout ExpressionParser, line: Int) throws(Error) -> Node? {
            switch keyword {
            case "if": return try conditional(&p, line: line)
            case "for": return try loop(&p, line: line)
            case "set": return try assignment(&p, line: line)
            case "macro": return try macro(&p, line: line)
            case "break", "continue":
                try p.expectEnd()
                guard loopDepth > 0 else { throw Error(.syntax, "'\(keyword)' outside a loop", line: line) }
                return keyword == "break" ? .breakLoop(line: line) : .continueLoop(line: line)
            case "generation":
                try p.expectEnd()
                return nil
            default:
                if Self.refused.contains(keyword) {
                    throw Error(.unsupported, "the '\(keyword)' statement is not supported in chat templates", line: line)
                }
                throw Error(.syntax, "unknown statement '\(keyword)'", line: line)
            }
        }

        /// transformers' `{% generation %}` marks the assistant's text; it renders its body.
        private mutating func generation(line: Int) throws(Error) -> [Node] {
            let (body, end) = try nodes(until: ["endgeneration"])
            try end?.tokens.expectEnd()
            return body
        }

        private mutating func conditional(_ p: inout ExpressionParser, line: Int) throws(Error) -> Node {
            var branches: [Branch] = []
            var condition = try p.expression()
            try p.expectEnd()
            while true {
                let (body, end) = try nodes(until: ["elif", "else", "endif"])
                branches.append(Branch(condition: condition, body: body))
                guard var end else { break }
                switch end.keyword {
                case "elif":
                    condition = try end.tokens.expression()
                    try end.tokens.expectEnd()
                case "else":
                    try end.tokens.expectEnd()
                    let (otherwise, close) = try nodes(until: ["endif"])
                    try close?.tokens.expectEnd()
                    return .conditional(branches, otherwise: otherwise, line: line)
                default:
                    try end.tokens.expectEnd()
                    return .conditional(branches, otherwise: [], line: line)
                }
            }
            return .conditional(branches, otherwise: [], line: line)
        }

        private mutating func loop(_ p: inout ExpressionParser, line: Int) throws(Error) -> Node {
            var targets = [try p.name()]
            while p.skip(symbol: ",") { targets.append(try p.name()) }
            guard p.skip(name: "in") else { throw Error(.syntax, "expected 'in' in a for loop", line: line) }
            let iterable = try p.orExpression()
            let filter = p.skip(name: "if") ? try p.expression() : nil
            if p.peek?.isName("recursive") == true {
                throw Error(.unsupported, "recursive loops are not supported", line: line)
            }
            try p.expectEnd()
            loopDepth += 1
            let (body, end) = try nodes(until: ["else", "endfor"])
            loopDepth -= 1
            var otherwise: [Node] = []
            try end?.tokens.expectEnd()
            if end?.keyword == "else" {
                let (rest, close) = try nodes(until: ["endfor"])
                try close?.tokens.expectEnd()
                otherwise = rest
            }
            return .loop(Loop(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise, line: line))
        }

        private mutating func assignment(_ p: inout ExpressionParser, line: Int) throws(Error) -> Node {
            let first = try p.name()
            var target = AssignTarget.names([first])
            if p.skip(symbol: ".") {
                target = .attribute(first, try p.name())
            } else {
                var names = [first]
                while p.skip(symbol: ",") { names.append(try p.name()) }
                target = .names(names)
            }
            if p.skip(symbol: "=") {
                let value = try p.tupleOrExpression()
                try p.expectEnd()
                return .assign(target, value, line: line)
            }
            guard case .names(let names) = target, names.count == 1 else {
                throw Error(.syntax, "expected '=' in a set statement", line: line)
            }
            if p.skip(symbol: "|") { throw Error(.unsupported, "filters on a set block are not supported", line: line) }
            try p.expectEnd()
            let (body, end) = try nodes(until: ["endset"])
            try end?.tokens.expectEnd()
            return .assignBlock(first, body, line: line)
        }

        private mutating func macro(_ p: inout ExpressionParser, line: Int) throws(Error) -> Node {
            let name = try p.name()
            var parameters: [(name: String, defaultValue: Expression?)] = []
            guard p.skip(symbol: "(") else { throw Error(.syntax, "expected '(' after the macro's name", line: line) }
            while !p.skip(symbol: ")") {
                if !parameters.isEmpty, !p.skip(symbol: ",") { throw Error(.syntax, "expected ',' between macro parameters", line: line) }
                if p.skip(symbol: ")") { break }
                let parameter = try p.name()
                parameters.append((parameter, p.skip(symbol: "=") ? try p.expression() : nil))
            }
            try p.expectEnd()
            let saved = loopDepth
            loopDepth = 0
            let (body, end) = try nodes(until: ["endmacro"])
            loopDepth = saved
            try end?.tokens.expectEnd()
            return .macro(MacroDefinition(name: name, parameters: parameters, body: body), line: line)
        }
    }
}
