extension String {
    /// Jinja2's `indent` filter, quirks included: it appends a newline
    /// before Python's `splitlines` (so that a trailing newline survives it),
    /// and every line break becomes `\n`.
    func jinjaIndented(by indention: String, first: Bool, blank: Bool) -> String {
        let lines = (self + "\n").pythonLines
        var out: String
        if blank {
            out = lines.joined(separator: "\n" + indention)
        } else {
            out = lines[0]
            if lines.count > 1 { out += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indention + $0 }.joined(separator: "\n") }
        }
        return first ? indention + out : out
    }

    /// Python's `str.splitlines()`: breaks at any of its line boundaries
    /// (`\r\n` as one), no empty last line for a text that ends with one.
    var pythonLines: [String] {
        let boundaries: Set<Unicode.Scalar> = ["\n", "\r", "\u{0B}", "\u{0C}", "\u{1C}", "\u{1D}", "\u{1E}", "\u{85}", "\u{2028}", "\u{2029}"]
        var lines: [String] = [], current = String.UnicodeScalarView()
        var previous: Unicode.Scalar?
        for u in unicodeScalars {
            defer { previous = u }
            if u == "\n", previous == "\r" { continue }
            if boundaries.contains(u) {
                lines.append(String(current))
                current = String.UnicodeScalarView()
            } else {
                current.append(u)
            }
        }
        if !current.isEmpty { lines.append(String(current)) }
        return lines
    }
}
