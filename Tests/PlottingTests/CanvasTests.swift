import Testing
@testable import Plotting

@Suite struct CanvasTests {
    static let ink = Color(red: 10, green: 200, blue: 30)

    /// (x, y) of every pixel that is not the background.
    static func inkedPixels(_ canvas: Canvas) -> Set<[Int]> {
        var inked: Set<[Int]> = []
        for y in 0..<canvas.height {
            for x in 0..<canvas.width where canvas.color(x: x, y: y) != .white {
                inked.insert([x, y])
            }
        }
        return inked
    }

    @Test func newCanvasIsFilledWithTheBackground() {
        let canvas = Canvas(width: 4, height: 3, background: .white)
        #expect(canvas.pixels == [UInt8](repeating: 255, count: 4 * 3 * 3))
    }

    @Test func horizontalLineCoversExactlyItsPixels() {
        var canvas = Canvas(width: 12, height: 10, background: .white)
        canvas.drawLine(fromX: 2, fromY: 5, toX: 8, toY: 5, thickness: 1, color: Self.ink)
        #expect(Self.inkedPixels(canvas) == Set((2...8).map { [$0, 5] }))
        #expect(canvas.color(x: 2, y: 5) == Self.ink)
    }

    @Test func diagonalLineIsTheDiagonal() {
        var canvas = Canvas(width: 6, height: 6, background: .white)
        canvas.drawLine(fromX: 4, fromY: 4, toX: 0, toY: 0, thickness: 1, color: Self.ink)
        #expect(Self.inkedPixels(canvas) == Set((0...4).map { [$0, $0] }))
    }

    /// A line that is wider than tall must light exactly one pixel per column
    /// (no gaps, no doubling) and include both end points.
    @Test func shallowLineHasOnePixelPerColumn() {
        var canvas = Canvas(width: 10, height: 6, background: .white)
        canvas.drawLine(fromX: 0, fromY: 0, toX: 7, toY: 3, thickness: 1, color: Self.ink)
        let inked = Self.inkedPixels(canvas)
        #expect(inked.count == 8)
        #expect(Set(inked.map { $0[0] }) == Set(0...7))
        #expect(inked.contains([0, 0]) && inked.contains([7, 3]))
    }

    @Test func thickHorizontalLineCoversThreeRows() {
        var canvas = Canvas(width: 12, height: 10, background: .white)
        canvas.drawLine(fromX: 3, fromY: 5, toX: 6, toY: 5, thickness: 3, color: Self.ink)
        #expect(Set(Self.inkedPixels(canvas).map { $0[1] }) == [4, 5, 6])
        #expect(Set(Self.inkedPixels(canvas).map { $0[0] }) == Set(2...7))
    }

    @Test func drawingOutsideTheCanvasIsClippedNotFatal() {
        var canvas = Canvas(width: 8, height: 8, background: .white)
        canvas.fillRect(x: -5, y: -5, width: 10, height: 10, color: Self.ink)
        canvas.fillRect(x: 6, y: 6, width: .max, height: .max, color: Self.ink)
        canvas.fillRect(x: 20, y: 20, width: 3, height: 3, color: Self.ink)
        canvas.drawLine(fromX: -10, fromY: 1, toX: 20, toY: 1, thickness: 4, color: Self.ink)
        canvas.setPixel(x: -1, y: 0, color: Self.ink)
        let inked = Self.inkedPixels(canvas)
        #expect(inked.contains([0, 0]) && inked.contains([4, 4]) && !inked.contains([5, 5]))
        #expect(inked.contains([7, 7]))
    }

    @Test func horizontalTextStaysInsideItsExtent() {
        var canvas = Canvas(width: 60, height: 30, background: .white)
        canvas.drawText("Hg", x: 5, y: 4, scale: 2, color: Self.ink)
        let extent = Canvas.textExtent("Hg", scale: 2)
        #expect(extent == TextExtent(length: (2 * 6 - 1) * 2, thickness: 18))
        let inked = Self.inkedPixels(canvas)
        #expect(!inked.isEmpty)
        #expect(inked.allSatisfy { (5..<(5 + extent.length)).contains($0[0]) && (4..<(4 + extent.thickness)).contains($0[1]) })
        // H's left stem starts at the anchor; g's descender reaches the bottom row.
        #expect(inked.contains([5, 4]))
        #expect(inked.contains { $0[1] == 4 + extent.thickness - 1 })
    }

    /// Rotating a hyphen a quarter turn makes it vertical.
    @Test func upwardTextRunsBottomToTop() {
        var horizontal = Canvas(width: 20, height: 20, background: .white)
        horizontal.drawText("-", x: 2, y: 2, scale: 1, color: Self.ink)
        let across = Self.inkedPixels(horizontal)
        #expect(Set(across.map { $0[1] }).count == 1 && Set(across.map { $0[0] }).count == 5)

        var upward = Canvas(width: 20, height: 20, background: .white)
        upward.drawText("-", x: 2, y: 15, scale: 1, color: Self.ink, direction: .upward)
        let up = Self.inkedPixels(upward)
        #expect(Set(up.map { $0[0] }).count == 1 && Set(up.map { $0[1] }) == Set(11...15))
    }

    /// A quarter turn counter-clockwise sends "up" to "left" and "right" to
    /// "up": from the corner of the L, the stem now points left and the foot
    /// points up.
    @Test func upwardLetterLIsRotatedCounterClockwise() {
        var canvas = Canvas(width: 20, height: 20, background: .white)
        canvas.drawText("L", x: 2, y: 15, scale: 1, color: Self.ink, direction: .upward)
        let inked = Self.inkedPixels(canvas)
        let stem = Set((2...8).map { [$0, 15] })
        let foot = Set((11...15).map { [8, $0] })
        #expect(inked == stem.union(foot))
    }
}
