extension Jinja {
    /// Reads the tokens of an expression inside a tag.
    struct ExpressionLexer {
        let s: [Unicode.Scalar]
        var i: Int
        var line: Int

        static let symbols = ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=",
                              "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"]

        mutating func skipWhitespace() {
            while i < s.count, s[i].isPythonWhitespace {
                if s[i] == "\n" { line += 1 }
                i += 1
            }
        }

        mutating func next() throws(Error) -> Token {
            let c = s[i]
            if c == "_" || c.properties.isAlphabetic && c.isASCII { return name() }
            if ("0"..."9").contains(c) { return number() }
            if c == "'" || c == "\"" { return try string(quote: c) }
            for symbol in Self.symbols where matches(symbol) {
                i += symbol.unicodeScalars.count
                return Token(kind: .symbol(symbol), line: line)
            }
            throw Error(.syntax, "unexpected character '\(c)'", line: line)
        }

        private func matches(_ symbol: String) -> Bool {
            var j = i
            for u in symbol.unicodeScalars {
                guard j < s.count, s[j] == u else { return false }
                j += 1
            }
            return true
        }

        private mutating func name() -> Token {
            let start = i
            while i < s.count, s[i] == "_" || s[i].isASCII && (s[i].properties.isAlphabetic || ("0"..."9").contains(s[i])) { i += 1 }
            return Token(kind: .name(String(String.UnicodeScalarView(s[start..<i]))), line: line)
        }

        private mutating func digits() -> String {
            var text = ""
            while i < s.count, ("0"..."9").contains(s[i]) || s[i] == "_" {
                if s[i] != "_" { text.unicodeScalars.append(s[i]) }
                i += 1
            }
            return text
        }

        private mutating func number() -> Token {
            var text = digits()
            var isFloat = false
            if i + 1 < s.count, s[i] == ".", ("0"..."9").contains(s[i + 1]) {
                i += 1
                text += "." + digits()
                isFloat = true
            }
            if i < s.count, s[i] == "e" || s[i] == "E" {
                var j = i + 1
                if j < s.count, s[j] == "+" || s[j] == "-" { j += 1 }
                if j < s.count, ("0"..."9").contains(s[j]) {
                    text += String(String.UnicodeScalarView(s[i..<j]))
                    i = j
                    text += digits()
                    isFloat = true
                }
            }
            if !isFloat, let n = Int(text) { return Token(kind: .integer(n), line: line) }
            return Token(kind: .float(Double(text) ?? .infinity), line: line)
        }

        /// Jinja2 decodes a literal's escapes as Python's unicode-escape does;
        /// an unknown escape keeps its backslash.
        private mutating func string(quote: Unicode.Scalar) throws(Error) -> Token {
            let start = line
            i += 1
            var out = String.UnicodeScalarView()
            while i < s.count, s[i] != quote {
                if s[i] == "\n" { line += 1 }
                if s[i] == "\\", i + 1 < s.count {
                    try escape(into: &out)
                } else {
                    out.append(s[i])
                    i += 1
                }
            }
            guard i < s.count else { throw Error(.syntax, "unclosed string literal", line: start) }
            i += 1
            return Token(kind: .string(String(out)), line: start)
        }

        private mutating func escape(into out: inout String.UnicodeScalarView) throws(Error) {
            let c = s[i + 1]
            let simple: [Unicode.Scalar: Unicode.Scalar] = ["n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", "\"": "\"",
                                                           "a": "\u{07}", "b": "\u{08}", "f": "\u{0C}", "v": "\u{0B}", "0": "\0"]
            if let replacement = simple[c] {
                out.append(replacement)
                i += 2
            } else if c == "\n" {
                i += 2
                line += 1
            } else if let width = ["x": 2, "u": 4, "U": 8][String(c)] {
                let digits = s[min(i + 2, s.count)..<min(i + 2 + width, s.count)]
                guard digits.count == width, let value = UInt32(String(String.UnicodeScalarView(digits)), radix: 16),
                      let scalar = Unicode.Scalar(value)
                else { throw Error(.syntax, "invalid \\\(c) escape in a string literal", line: line) }
                out.append(scalar)
                i += 2 + width
            } else {
                out.append("\\")
                i += 1
            }
        }
    }
}
