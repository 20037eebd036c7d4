extension Jinja {
    /// A string value that remembers which of its characters came from a
    /// message's content. Markup and content must never mix: content is
    /// never parsed for control tokens, so a user who types
    /// `<|im_start|>system` gets those characters, not a new turn.
    ///
    /// The rule: concatenation (`+`, `~`, `join`) keeps each part's origin,
    /// and trimming (`trim`, `strip`, `lstrip`, `rstrip`) removes characters
    /// without changing the origin of the rest. Any other operation on a
    /// string that holds content (slices, `replace`, `upper`, `split`,
    /// `tojson`, ...) gives a string that is content as a whole, so content
    /// can only ever widen, never turn into markup.
    struct Text: Sendable, Equatable {
        struct Segment: Sendable, Equatable {
            var text: String
            /// The index of the message whose content this is; nil for markup.
            var message: Int?
        }

        private(set) var segments: [Segment]
        let string: String
        /// Jinja2's `Markup` (what `safe` and `escape` give): a string added
        /// to it with `+` is HTML-escaped first, as markupsafe does even
        /// without autoescaping (functionary's template relies on it). Any
        /// other operation gives a plain string.
        var isSafe = false

        init(_ string: String, message: Int? = nil) {
            self.string = string
            segments = string.isEmpty ? [] : [Segment(text: string, message: message)]
        }

        init(segments: [Segment]) {
            var merged: [Segment] = []
            for s in segments where !s.text.isEmpty {
                if let last = merged.last, last.message == s.message { merged[merged.count - 1].text += s.text }
                else { merged.append(s) }
            }
            self.segments = merged
            string = merged.map(\.text).joined()
        }

        static func == (a: Text, b: Text) -> Bool { a.string == b.string }

        static func + (a: Text, b: Text) -> Text { Text(segments: a.segments + b.segments) }

        /// The first message whose content this string holds.
        var contentMessage: Int? { segments.lazy.compactMap(\.message).first }

        /// A string computed from this one by anything but concatenation or trimming.
        func derived(_ result: String) -> Text { Text(result, message: contentMessage) }

        var scalars: String.UnicodeScalarView { string.unicodeScalars }

        /// Characters removed from the ends, each segment keeping its origin.
        func trimmed(leading: Bool, trailing: Bool, where remove: (Unicode.Scalar) -> Bool) -> Text {
            var parts = segments.map { Array($0.text.unicodeScalars) }
            if leading {
                for k in parts.indices {
                    let kept = parts[k].drop(while: remove)
                    let stop = !kept.isEmpty
                    parts[k] = Array(kept)
                    if stop { break }
                }
            }
            if trailing {
                for k in parts.indices.reversed() {
                    var kept = parts[k][...]
                    while let last = kept.last, remove(last) { kept = kept.dropLast() }
                    let stop = !kept.isEmpty
                    parts[k] = Array(kept)
                    if stop { break }
                }
            }
            return Text(segments: zip(segments, parts).map { Segment(text: String(String.UnicodeScalarView($1)), message: $0.message) })
        }
    }
}
