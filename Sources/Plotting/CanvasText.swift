/// Which way a line of text runs on the canvas.
enum TextDirection: Sendable {
    /// Left to right; the anchor is the top-left corner of the text box.
    case horizontal
    /// Bottom to top (rotated 90 degrees counter-clockwise), as on a y-axis
    /// label; the anchor is the bottom-left corner of the rotated text box.
    case upward
}

/// Size of a line of text before any rotation, in pixels.
struct TextExtent: Sendable, Equatable {
    /// Along the reading direction.
    var length: Int
    /// Across the reading direction, descenders included.
    var thickness: Int
}

extension Canvas {
    /// Text is drawn one glyph per Character, at an integer `scale` so the
    /// bitmap font stays crisp (each font pixel becomes a scale x scale block).
    static func textExtent(_ text: String, scale: Int) -> TextExtent {
        let scale = max(1, scale)
        let count = text.count
        // The spacing column after the last glyph is not part of the text.
        let length = count == 0 ? 0 : (count * BitmapFont.advance - 1) * scale
        return TextExtent(length: length, thickness: BitmapFont.glyphHeight * scale)
    }

    mutating func drawText(_ text: String, x: Int, y: Int, scale: Int, color: Color, direction: TextDirection = .horizontal) {
        let scale = max(1, scale)
        for (index, character) in text.enumerated() {
            let glyph = BitmapFont.glyph(for: character)
            let glyphStart = index * BitmapFont.advance * scale
            for row in 0..<BitmapFont.glyphHeight {
                for column in 0..<BitmapFont.glyphWidth where BitmapFont.isLit(glyph, row: row, column: column) {
                    let along = glyphStart + column * scale
                    let across = row * scale
                    switch direction {
                    case .horizontal:
                        fillRect(x: x + along, y: y + across, width: scale, height: scale, color: color)
                    case .upward:
                        // Reading direction becomes -y and the glyph's top faces left.
                        fillRect(x: x + across, y: y - along - scale + 1, width: scale, height: scale, color: color)
                    }
                }
            }
        }
    }
}
