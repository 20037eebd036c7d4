extension Jinja.Renderer {
    /// Python's `str.format` for plain replacement fields: `{}`, `{0}`,
    /// `{name}` and the `{{`/`}}` escapes (Hunyuan's template builds its
    /// special tokens so). A conversion, a format spec, or an attribute or
    /// index inside a field is refused rather than printed approximately.
    func format(_ template: Jinja.Text, _ args: [Value], _ kwargs: [String: Value]) throws(Error) -> Value {
        let scalars = Array(template.scalars)
        var out = "", k = 0, nextIndex = 0
        var automatic: Bool?
        var contentMessage = template.contentMessage
        while k < scalars.count {
            let u = scalars[k]
            k += 1
            if u == "}" {
                guard k < scalars.count, scalars[k] == "}" else { throw Error(.runtime, "Single '}' encountered in format string") }
                out += "}"
                k += 1
                continue
            }
            guard u == "{" else { out.unicodeScalars.append(u); continue }
            if k < scalars.count, scalars[k] == "{" { out += "{"; k += 1; continue }
            guard let close = scalars[k...].firstIndex(of: "}") else { throw Error(.runtime, "Single '{' encountered in format string") }
            let field = String(String.UnicodeScalarView(scalars[k..<close]))
            k = close + 1
            if field.unicodeScalars.contains(where: { ":!.[{".unicodeScalars.contains($0) }) {
                throw Error(.unsupported, "str.format: the field {\(field)} is not supported (only {}, {0} and {name})")
            }
            let value: Value
            // Digits only: Python reads `{-1}` as a keyword's name.
            let number = field.unicodeScalars.allSatisfy { ("0"..."9").contains($0) } ? Int(field) : nil
            if field.isEmpty || number != nil {
                // Python refuses `{}` and `{0}` in one format.
                if let automatic, automatic != field.isEmpty {
                    throw Error(.runtime, "cannot switch between automatic field numbering and manual field specification")
                }
                automatic = field.isEmpty
                let index = number ?? nextIndex
                nextIndex += 1
                guard index < args.count else { throw Error(.runtime, "Replacement index \(index) out of range for positional args tuple") }
                value = args[index]
            } else {
                guard let v = kwargs[field] else { throw Error(.runtime, "KeyError: '\(field)'") }
                value = v
            }
            let printed = value.printed
            contentMessage = contentMessage ?? printed.contentMessage
            out += printed.string
        }
        // Anything computed from content is content as a whole (Jinja.Text's rule).
        return .string(Jinja.Text(out, message: contentMessage))
    }
}
