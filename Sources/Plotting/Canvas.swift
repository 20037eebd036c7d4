/// An RGB pixel buffer with the few drawing primitives a chart needs.
/// Everything is clipped to the buffer, so callers may draw partly outside it.
struct Canvas: Sendable {
    let width: Int
    let height: Int
    /// Row-major, top row first, 3 bytes (R, G, B) per pixel.
    private(set) var pixels: [UInt8]

    init(width: Int, height: Int, background: Color) {
        precondition(width >= 0 && height >= 0)
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        fillRect(x: 0, y: 0, width: width, height: height, color: background)
    }

    func color(x: Int, y: Int) -> Color? {
        guard contains(x: x, y: y) else { return nil }
        let offset = (y * width + x) * 3
        return Color(red: pixels[offset], green: pixels[offset + 1], blue: pixels[offset + 2])
    }

    func contains(x: Int, y: Int) -> Bool {
        x >= 0 && x < width && y >= 0 && y < height
    }

    mutating func setPixel(x: Int, y: Int, color: Color) {
        guard contains(x: x, y: y) else { return }
        let offset = (y * width + x) * 3
        pixels[offset] = color.red
        pixels[offset + 1] = color.green
        pixels[offset + 2] = color.blue
    }

    mutating func fillRect(x: Int, y: Int, width rectWidth: Int, height rectHeight: Int, color: Color) {
        let left = max(0, x), right = min(width, x.addingClamped(rectWidth))
        let top = max(0, y), bottom = min(height, y.addingClamped(rectHeight))
        guard left < right, top < bottom else { return }
        pixels.withUnsafeMutableBufferPointer { buffer in
            for row in top..<bottom {
                var offset = (row * width + left) * 3
                for _ in left..<right {
                    buffer[offset] = color.red
                    buffer[offset + 1] = color.green
                    buffer[offset + 2] = color.blue
                    offset += 3
                }
            }
        }
    }

    /// Bresenham's line, stamping a square of side `thickness` at each step:
    /// integer-only and good enough for 1-4 px chart lines (no anti-aliasing).
    mutating func drawLine(fromX x0: Int, fromY y0: Int, toX x1: Int, toY y1: Int, thickness: Int, color: Color) {
        let side = max(1, thickness)
        let inset = (side - 1) / 2
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let stepX = x0 < x1 ? 1 : -1, stepY = y0 < y1 ? 1 : -1
        var error = dx + dy
        var x = x0, y = y0
        while true {
            if side == 1 {
                setPixel(x: x, y: y, color: color)
            } else {
                fillRect(x: x - inset, y: y - inset, width: side, height: side, color: color)
            }
            if x == x1 && y == y1 { break }
            let doubledError = 2 * error
            if doubledError >= dy { error += dy; x += stepX }
            if doubledError <= dx { error += dx; y += stepY }
        }
    }

    func png() -> [UInt8] {
        PNGEncoder.encode(width: width, height: height, format: .rgb8, pixels: pixels)
    }
}

extension Int {
    /// Rectangle edges come from layout arithmetic; saturating keeps an absurd
    /// size from trapping instead of just being clipped.
    func addingClamped(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
