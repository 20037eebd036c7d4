extension Jinja {
    /// Cuts a template into text and tags the way Jinja2's lexer does with
    /// transformers' settings: `-` strips whitespace beside a tag,
    /// `trim_blocks` drops the newline after a block or comment tag and
    /// `lstrip_blocks` the indentation before one (`+` turns that off).
    struct TemplateLexer {
        let s: [Unicode.Scalar]
        var i = 0
        var line = 1
        /// Whether the text about to be read starts a line (for lstrip_blocks).
        var lineStarting = true
        var chunks: [Chunk] = []

        init(_ source: String) {
            // Jinja2 normalises newlines and drops one trailing newline
            // (keep_trailing_newline=False).
            var text = source.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            if text.hasSuffix("\n") { text.removeLast() }
            s = Array(text.unicodeScalars)
        }

        static func chunks(of source: String) throws(Error) -> [Chunk] {
            var lexer = TemplateLexer(source)
            try lexer.run()
            return lexer.chunks
        }

        private enum TagKind { case output, statement, comment }

        mutating func run() throws(Error) {
            while i < s.count {
                guard let (start, kind) = nextTag() else {
                    emitText(s[i...])
                    i = s.count
                    break
                }
                let signIndex = start + 2
                let sign: Unicode.Scalar? = signIndex < s.count && (s[signIndex] == "-" || s[signIndex] == "+") ? s[signIndex] : nil
                var text = s[i..<start]
                if sign == "-" {
                    while let last = text.last, last.isPythonWhitespace { text = text.dropLast() }
                } else if sign != "+", kind != .output {
                    text = leftStripped(text)
                }
                emitText(text)
                line += s[i..<start].newlineCount
                i = signIndex + (sign == nil ? 0 : 1)
                switch kind {
                case .comment: try skipComment()
                case .output, .statement: try readTag(kind)
                }
            }
        }

        private func nextTag() -> (Int, TagKind)? {
            var j = i
            while j + 1 < s.count {
                if s[j] == "{" {
                    switch s[j + 1] {
                    case "{": return (j, .output)
                    case "%": return (j, .statement)
                    case "#": return (j, .comment)
                    default: break
                    }
                }
                j += 1
            }
            return nil
        }

        /// lstrip_blocks: the indentation before a block tag goes when only
        /// whitespace precedes the tag on its line.
        private func leftStripped(_ text: ArraySlice<Unicode.Scalar>) -> ArraySlice<Unicode.Scalar> {
            let lineStart = (text.lastIndex(of: "\n").map { $0 + 1 }) ?? text.startIndex
            guard lineStart > text.startIndex || lineStarting else { return text }
            let tail = text[lineStart...]
            guard !tail.isEmpty, tail.allSatisfy(\.isPythonWhitespace) else { return text }
            return text[..<lineStart]
        }

        private mutating func emitText(_ text: ArraySlice<Unicode.Scalar>) {
            guard !text.isEmpty else { return }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: text)
            chunks.append(.text(String(view)))
        }

        private mutating func skipComment() throws(Error) {
            let open = line
            while i + 1 < s.count, !(s[i] == "#" && s[i + 1] == "}") {
                if s[i] == "\n" { line += 1 }
                i += 1
            }
            guard i + 1 < s.count else { throw Error(.syntax, "unclosed comment", line: open) }
            let strip = i > 0 && s[i - 1] == "-"
            i += 2
            finishTag(strip: strip, trim: true)
        }

        /// After a tag: `-` eats the whitespace that follows, trim_blocks one newline.
        private mutating func finishTag(strip: Bool, trim: Bool) {
            lineStarting = false
            if strip {
                while i < s.count, s[i].isPythonWhitespace {
                    if s[i] == "\n" { line += 1 }
                    lineStarting = s[i] == "\n"
                    i += 1
                }
            } else if trim, i < s.count, s[i] == "\n" {
                line += 1
                i += 1
                lineStarting = true
            }
        }

        private mutating func readTag(_ kind: TagKind) throws(Error) {
            let open = line
            var tokens: [Token] = []
            var depth = 0
            var expression = ExpressionLexer(s: s, i: i, line: line)
            while true {
                expression.skipWhitespace()
                guard expression.i < s.count else {
                    throw Error(.syntax, kind == .output ? "unclosed '{{'" : "unclosed '{%'", line: open)
                }
                if depth == 0, let (length, strip, trim) = tagEnd(at: expression.i, kind) {
                    i = expression.i + length
                    line = expression.line
                    finishTag(strip: strip, trim: trim)
                    break
                }
                let token = try expression.next()
                if case let .symbol(c) = token.kind {
                    if "([{".contains(c) { depth += 1 }
                    if ")]}".contains(c) { depth -= 1 }
                    if depth < 0 { throw Error(.syntax, "unexpected '\(c)'", line: token.line) }
                }
                tokens.append(token)
            }
            chunks.append(kind == .output ? .output(tokens, line: open) : .statement(tokens, line: open))
        }

        private func tagEnd(at j: Int, _ kind: TagKind) -> (length: Int, strip: Bool, trim: Bool)? {
            let close: Unicode.Scalar = kind == .output ? "}" : "%"
            func at(_ k: Int, _ c: Unicode.Scalar) -> Bool { k < s.count && s[k] == c }
            if at(j, close), at(j + 1, "}") { return (2, false, kind == .statement) }
            if at(j, "-"), at(j + 1, close), at(j + 2, "}") { return (3, true, false) }
            if kind == .statement, at(j, "+"), at(j + 1, close), at(j + 2, "}") { return (3, false, false) }
            return nil
        }
    }
}

extension Unicode.Scalar {
    /// Python's `str.isspace()`, which `strip()` and `split()` use: Unicode
    /// White_Space plus the four information separators.
    var isPythonWhitespace: Bool { properties.isWhitespace || (0x1C...0x1F).contains(value) }
}

extension Collection<Unicode.Scalar> {
    var newlineCount: Int { reduce(0) { $0 + ($1 == "\n" ? 1 : 0) } }
}
