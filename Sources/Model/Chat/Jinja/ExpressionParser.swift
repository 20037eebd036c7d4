extension Jinja {
    /// Parses the tokens of one tag with Jinja2's precedence: conditional,
    /// `or`, `and`, `not`, comparisons, `+ -`, `~`, `* / // %`, `**`, unary
    /// minus, then primaries with their attributes, subscripts, calls,
    /// filters and tests.
    struct ExpressionParser {
        let tokens: [Token]
        let line: Int
        var i = 0

        init(tokens: [Token], line: Int) {
            self.tokens = tokens
            self.line = line
        }

        var peek: Token? { i < tokens.count ? tokens[i] : nil }
        mutating func advance() { i += 1 }

        mutating func skip(symbol: String) -> Bool {
            guard peek?.isSymbol(symbol) == true else { return false }
            i += 1
            return true
        }

        mutating func skip(name: String) -> Bool {
            guard peek?.isName(name) == true else { return false }
            i += 1
            return true
        }

        func fail(_ message: String) -> Error { Error(.syntax, message, line: peek?.line ?? line) }

        func expectEnd() throws(Error) {
            guard let token = peek else { return }
            throw fail("unexpected \(token.kind.spelling) at the end of the tag")
        }

        mutating func expect(_ symbol: String) throws(Error) {
            guard skip(symbol: symbol) else { throw fail("expected '\(symbol)'" + (peek.map { ", found \($0.kind.spelling)" } ?? "")) }
        }

        mutating func name() throws(Error) -> String {
            guard let n = peek?.name else { throw fail("expected a name" + (peek.map { ", found \($0.kind.spelling)" } ?? "")) }
            i += 1
            return n
        }

        /// `a, b` as a tuple where Jinja2 allows one (`set x = 1, 2`).
        mutating func tupleOrExpression() throws(Error) -> Expression {
            let first = try expression()
            guard peek?.isSymbol(",") == true else { return first }
            var items = [first]
            while skip(symbol: ","), peek != nil { items.append(try expression()) }
            return .tuple(items)
        }

        mutating func expression() throws(Error) -> Expression {
            let value = try orExpression()
            guard skip(name: "if") else { return value }
            let condition = try orExpression()
            let otherwise = skip(name: "else") ? try expression() : nil
            return .conditional(then: value, condition: condition, otherwise: otherwise)
        }

        mutating func orExpression() throws(Error) -> Expression {
            var left = try andExpression()
            while skip(name: "or") { left = .or(left, try andExpression()) }
            return left
        }

        private mutating func andExpression() throws(Error) -> Expression {
            var left = try notExpression()
            while skip(name: "and") { left = .and(left, try notExpression()) }
            return left
        }

        private mutating func notExpression() throws(Error) -> Expression {
            if skip(name: "not") { return .not(try notExpression()) }
            return try comparison()
        }

        private mutating func comparison() throws(Error) -> Expression {
            let first = try sum()
            var chain: [(op: String, operand: Expression)] = []
            while true {
                if let t = peek, case let .symbol(s) = t.kind, ["==", "!=", "<", "<=", ">", ">="].contains(s) {
                    i += 1
                    chain.append((s, try sum()))
                } else if skip(name: "in") {
                    chain.append(("in", try sum()))
                } else if peek?.isName("not") == true, i + 1 < tokens.count, tokens[i + 1].isName("in") {
                    i += 2
                    chain.append(("not in", try sum()))
                } else {
                    break
                }
            }
            return chain.isEmpty ? first : .compare(first, chain)
        }

        private mutating func binaryLevel(_ ops: [String], _ operand: (inout ExpressionParser) throws(Error) -> Expression) throws(Error) -> Expression {
            var left = try operand(&self)
            while let t = peek, case let .symbol(s) = t.kind, ops.contains(s) {
                i += 1
                left = .binary(s, left, try operand(&self))
            }
            return left
        }

        private mutating func sum() throws(Error) -> Expression {
            try binaryLevel(["+", "-"]) { (p: inout ExpressionParser) throws(Error) in try p.concatenation() }
        }

        private mutating func concatenation() throws(Error) -> Expression {
            try binaryLevel(["~"]) { (p: inout ExpressionParser) throws(Error) in try p.product() }
        }

        private mutating func product() throws(Error) -> Expression {
            try binaryLevel(["*", "/", "//", "%"]) { (p: inout ExpressionParser) throws(Error) in try p.power() }
        }

        private mutating func power() throws(Error) -> Expression {
            try binaryLevel(["**"]) { (p: inout ExpressionParser) throws(Error) in try p.unary(withFilters: true) }
        }

        /// Jinja2 applies filters and tests after a unary minus: `-x|abs` is `(-x)|abs`.
        private mutating func unary(withFilters: Bool) throws(Error) -> Expression {
            var value: Expression
            if skip(symbol: "-") {
                value = .negate(try unary(withFilters: false))
            } else if skip(symbol: "+") {
                value = .plus(try unary(withFilters: false))
            } else {
                value = try postfix(try primary())
            }
            return withFilters ? try filtersAndTests(value) : value
        }

        private mutating func primary() throws(Error) -> Expression {
            guard let token = peek else { throw fail("expected an expression") }
            i += 1
            switch token.kind {
            case let .name(n):
                switch n {
                case "true", "True": return .literal(.bool(true))
                case "false", "False": return .literal(.bool(false))
                case "none", "None": return .literal(.none)
                default: return .name(n)
                }
            case var .string(s):
                // Adjacent literals concatenate, as in Python.
                while let next = peek, case let .string(more) = next.kind {
                    s += more
                    i += 1
                }
                return .literal(.string(s))
            case let .integer(n): return .literal(.integer(n))
            case let .float(x): return .literal(.float(x))
            case .symbol("("): return try parenthesised()
            case .symbol("["): return .list(try items(closing: "]"))
            case .symbol("{"): return try dict()
            case .symbol: i -= 1; throw fail("unexpected \(token.kind.spelling)")
            }
        }

        private mutating func parenthesised() throws(Error) -> Expression {
            if skip(symbol: ")") { return .tuple([]) }
            let first = try expression()
            if skip(symbol: ")") { return first }
            var items = [first]
            while skip(symbol: ",") {
                if peek?.isSymbol(")") == true { break }
                items.append(try expression())
            }
            try expect(")")
            return .tuple(items)
        }

        private mutating func items(closing: String) throws(Error) -> [Expression] {
            var items: [Expression] = []
            while !skip(symbol: closing) {
                if !items.isEmpty { try expect(",") }
                if skip(symbol: closing) { break }
                items.append(try expression())
            }
            return items
        }

        private mutating func dict() throws(Error) -> Expression {
            var entries: [(key: Expression, value: Expression)] = []
            while !skip(symbol: "}") {
                if !entries.isEmpty { try expect(",") }
                if skip(symbol: "}") { break }
                let key = try expression()
                try expect(":")
                entries.append((key, try expression()))
            }
            return .dict(entries)
        }

        private mutating func postfix(_ base: Expression) throws(Error) -> Expression {
            var value = base
            while true {
                if skip(symbol: ".") {
                    guard let t = peek else { throw fail("expected an attribute name") }
                    i += 1
                    switch t.kind {
                    case let .name(n): value = .attribute(value, n)
                    case let .integer(n): value = .subscript(value, .literal(.integer(n)))
                    default: i -= 1; throw fail("expected an attribute name")
                    }
                } else if skip(symbol: "[") {
                    value = try subscriptOrSlice(value)
                } else if skip(symbol: "(") {
                    value = .call(value, try arguments())
                } else {
                    return value
                }
            }
        }

        private mutating func subscriptOrSlice(_ base: Expression) throws(Error) -> Expression {
            func bound(_ p: inout ExpressionParser) throws(Error) -> Expression? {
                guard let t = p.peek, !t.isSymbol(":"), !t.isSymbol("]") else { return nil }
                return try p.expression()
            }
            let start = try bound(&self)
            guard skip(symbol: ":") else {
                try expect("]")
                guard let start else { throw fail("expected a subscript") }
                return .subscript(base, start)
            }
            let stop = try bound(&self)
            let step = skip(symbol: ":") ? try bound(&self) : nil
            try expect("]")
            return .slice(base, start: start, stop: stop, step: step)
        }

        /// Call arguments after `(`, up to and including `)`.
        mutating func arguments() throws(Error) -> Arguments {
            var arguments = Arguments()
            while !skip(symbol: ")") {
                if !arguments.positional.isEmpty || !arguments.keyword.isEmpty { try expect(",") }
                if skip(symbol: ")") { break }
                if peek?.isSymbol("*") == true || peek?.isSymbol("**") == true {
                    throw Error(.unsupported, "*args and **kwargs in calls are not supported", line: peek!.line)
                }
                if let n = peek?.name, i + 1 < tokens.count, tokens[i + 1].isSymbol("=") {
                    i += 2
                    arguments.keyword.append((n, try expression()))
                } else {
                    guard arguments.keyword.isEmpty else { throw fail("a positional argument follows a keyword argument") }
                    arguments.positional.append(try expression())
                }
            }
            return arguments
        }

        private mutating func filtersAndTests(_ base: Expression) throws(Error) -> Expression {
            var value = base
            while true {
                if skip(symbol: "|") {
                    var name = try self.name()
                    while skip(symbol: ".") { name += "." + (try self.name()) }
                    let arguments = skip(symbol: "(") ? try self.arguments() : Arguments()
                    value = .filter(value, name, arguments)
                } else if skip(name: "is") {
                    let negated = skip(name: "not")
                    let name = try self.name()
                    var arguments = Arguments()
                    if skip(symbol: "(") {
                        arguments = try self.arguments()
                    } else if let t = peek, t.startsTestArgument {
                        arguments.positional = [try postfix(try primary())]
                    }
                    value = .test(value, name, arguments, negated: negated)
                } else if skip(symbol: "(") {
                    value = .call(value, try arguments())
                } else {
                    return value
                }
            }
        }
    }
}

extension Jinja.Token {
    /// Jinja2 lets a test take one argument without parentheses (`is divisibleby 3`).
    var startsTestArgument: Bool {
        switch kind {
        case .string, .integer, .float: return true
        case let .name(n): return !["else", "or", "and", "if", "is", "in", "not"].contains(n)
        case let .symbol(s): return s == "[" || s == "{"
        }
    }
}

extension Jinja.Token.Kind {
    var spelling: String {
        switch self {
        case let .name(n): return "'\(n)'"
        case let .string(s): return "string '\(s.prefix(20))'"
        case let .integer(n): return "number \(n)"
        case let .float(x): return "number \(x)"
        case let .symbol(s): return "'\(s)'"
        }
    }
}
