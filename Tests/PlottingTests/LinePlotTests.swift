import Foundation
import Testing
@testable import Plotting

@Suite struct LinePlotTests {
    // Colours used by no part of the chart furniture, so every pixel of them
    // was painted by the series under test.
    static let magenta = Color(red: 200, green: 0, blue: 200)
    static let teal = Color(red: 0, green: 150, blue: 150)

    static func decode(_ plot: LinePlot, width: Int = 600, height: Int = 400) throws -> PythonPNGDecoder.Image {
        try PythonPNGDecoder.decode(plot.png(width: width, height: height))
    }

    static func pixels(of color: Color, in image: PythonPNGDecoder.Image) -> [(x: Int, y: Int)] {
        image.positions(ofRGB: [color.red, color.green, color.blue])
    }

    /// Mean row of the colour's pixels in each column that has any, by column.
    static func meanRowByColumn(_ points: [(x: Int, y: Int)]) -> [(column: Int, row: Double)] {
        Dictionary(grouping: points, by: \.x)
            .map { (column: $0.key, row: Double($0.value.map(\.y).reduce(0, +)) / Double($0.value.count)) }
            .sorted { $0.column < $1.column }
    }

    @Test func defaultSizeIs900By540() throws {
        let image = try PythonPNGDecoder.decode(LinePlot(series: [.init(name: "a", points: [(0, 1), (1, 2)])]).png())
        #expect(image.width == 900 && image.height == 540)
    }

    /// The file holds exactly the pixels drawn on the canvas, and zlib
    /// compresses a chart's flat colours far below its 900 x 540 x 3 bytes.
    @Test func pngDecodesToTheRenderedCanvasAndIsCompressed() throws {
        let xs = (0...200).map(Double.init)
        let plot = LinePlot(title: "Per-token decode latency", xLabel: "position", yLabel: "milliseconds per token",
                            series: [.init(name: "rising", x: xs, y: xs.map { 5 + $0 / 40 }),
                                     .init(name: "log-like", x: xs, y: xs.map { log(1 + $0) })])
        let png = plot.png()
        let image = try PythonPNGDecoder.decode(png)
        #expect(image.pixels == plot.render(width: 900, height: 540).pixels)
        #expect(image.rowFilterTypes.allSatisfy { $0 == 0 })
        #expect(png.count < 900 * 540 * 3 / 20, "\(png.count) bytes")
    }

    @Test func cornersAreTheWhiteBackground() throws {
        let plot = LinePlot(title: "t", xLabel: "x", yLabel: "y",
                            series: [.init(name: "a", x: [0, 1, 2], y: [3, 1, 2], color: Self.magenta)])
        let image = try Self.decode(plot)
        for (x, y) in [(0, 0), (599, 0), (0, 399), (599, 399)] {
            #expect(image.pixel(x: x, y: y) == [255, 255, 255], "corner (\(x), \(y))")
        }
    }

    /// y = x rises from the bottom-left to the top-right of the plot and
    /// y = 100 - x falls from the top-left to the bottom-right.
    @Test func risingAndFallingSeriesCrossThePlotDiagonally() throws {
        let xs = (0...100).map(Double.init)
        let plot = LinePlot(series: [
            .init(name: "", x: xs, y: xs, color: Self.magenta),
            .init(name: "", x: xs, y: xs.map { 100 - $0 }, color: Self.teal),
        ])
        let image = try Self.decode(plot)
        let rising = Self.meanRowByColumn(Self.pixels(of: Self.magenta, in: image))
        let falling = Self.meanRowByColumn(Self.pixels(of: Self.teal, in: image))
        try #require(rising.count > 2 && falling.count > 2)

        for line in [rising, falling] {
            #expect(line.first!.column < image.width / 4)
            #expect(line.last!.column > image.width * 3 / 4)
        }
        #expect(rising.first!.row - rising.last!.row > Double(image.height) / 2)
        #expect(falling.last!.row - falling.first!.row > Double(image.height) / 2)
        // Monotonic within the line thickness.
        for (left, right) in zip(rising, rising.dropFirst()) { #expect(right.row <= left.row + 2) }
        for (left, right) in zip(falling, falling.dropFirst()) { #expect(right.row >= left.row - 2) }
        // Same x range, mirrored y: the lines start and end in the same columns
        // and meet half-way up.
        #expect(abs(rising.first!.row - falling.last!.row) <= 2)
        #expect(abs(rising.last!.row - falling.first!.row) <= 2)
    }

    @Test func constantSeriesIsAHorizontalLineNearTheTop() throws {
        let xs = (0...50).map(Double.init)
        let plot = LinePlot(series: [.init(name: "", x: xs, y: xs.map { _ in 100 }, color: Self.magenta)])
        let image = try Self.decode(plot)
        let points = Self.pixels(of: Self.magenta, in: image)
        let rows = Set(points.map(\.y)), columns = Set(points.map(\.x))
        #expect(rows.count <= 2)
        #expect(columns.count > image.width / 2)
        // The y axis starts at zero, so 100 is at the top, not mid-plot as it
        // would be on an axis fitted to the data (e.g. 99...101).
        #expect(rows.max()! < image.height * 3 / 10)
    }

    /// On a logarithmic axis 1, 10 and 100 are evenly spaced, and a point
    /// at y = 0 (which has no place there) is left out, not drawn at -infinity.
    @Test func logarithmicAxisSpacesDecadesEvenly() throws {
        let plot = LinePlot(series: [.init(name: "", x: [0, 1, 2, 3], y: [1, 10, 100, 0], color: Self.magenta)],
                            yScale: .logarithmic)
        let image = try Self.decode(plot)
        let line = Self.meanRowByColumn(Self.pixels(of: Self.magenta, in: image))
        try #require(line.count > 10)
        // A straight line: the middle column sits half-way in rows.
        let first = line.first!, last = line.last!, middle = line[line.count / 2]
        let expected = first.row + (last.row - first.row) * Double(middle.column - first.column) / Double(last.column - first.column)
        #expect(abs(middle.row - expected) <= 3, "\(middle.row) vs \(expected)")
        #expect(first.row - last.row > Double(image.height) / 2)
        // The point at y = 0 is dropped, so the x axis ends at x = 2 and the
        // line reaches the right of the plot.
        #expect(last.column > image.width * 3 / 4)
    }

    @Test func namedSeriesAppearsInTheLegendAboveThePlot() throws {
        let flatAtZero: [(x: Double, y: Double)] = (0...40).map { (x: Double($0), y: 0) }
        let named = try Self.decode(LinePlot(series: [.init(name: "with KV cache", points: flatAtZero, color: Self.magenta)]))
        let unnamed = try Self.decode(LinePlot(series: [.init(name: "", points: flatAtZero, color: Self.magenta)]))
        let topBand = 400 / 5
        #expect(Self.pixels(of: Self.magenta, in: named).contains { $0.y < topBand })
        #expect(!Self.pixels(of: Self.magenta, in: unnamed).contains { $0.y < topBand })
        #expect(Self.pixels(of: Self.magenta, in: unnamed).contains { $0.y > 400 / 2 })
    }

    @Test func seriesWithoutAColourUseThePaletteInOrder() throws {
        let plot = LinePlot(series: [
            .init(name: "first", points: [(0, 1), (1, 2)]),
            .init(name: "second", points: [(0, 2), (1, 1)]),
        ])
        let image = try Self.decode(plot)
        #expect(!Self.pixels(of: Color.seriesPalette[0], in: image).isEmpty)
        #expect(!Self.pixels(of: Color.seriesPalette[1], in: image).isEmpty)
        #expect(Self.pixels(of: Color.seriesPalette[2], in: image).isEmpty)
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity])
    func nonFiniteValueLeavesAGapInTheLine(_ missing: Double) throws {
        let plot = LinePlot(series: [.init(name: "", points: [(0, 1), (1, 1), (2, missing), (3, 1), (4, 1)], color: Self.magenta)])
        let image = try Self.decode(plot)
        let columns = Set(Self.pixels(of: Self.magenta, in: image).map(\.x)).sorted()
        let widestGap = zip(columns, columns.dropFirst()).map { $1 - $0 }.max() ?? 0
        // x = 1 to x = 3 is half the plot width, minus the markers' half-widths.
        #expect(widestGap > image.width / 5)
    }

    @Test func singlePointIsDrawnAsAMarker() throws {
        let image = try Self.decode(LinePlot(series: [.init(name: "", points: [(5, 3)], color: Self.magenta)]))
        let points = Self.pixels(of: Self.magenta, in: image)
        #expect(points.count >= 9)
        // Alone on a padded x axis, it sits in the middle column range.
        let meanColumn = Double(points.map(\.x).reduce(0, +)) / Double(points.count)
        #expect(abs(meanColumn - 300) < 60)
    }

    enum DegenerateInput: String, CaseIterable, CustomTestStringConvertible {
        case noSeries, emptySeries, singlePoint, allNaN, mixedNonFinite, allEqualY, allZeroY, allEqualX
        case negativeValues, hugeValues, tinyValues, manyPoints, manySeries, unicodeTexts, emptyTexts, veryLongTexts

        var testDescription: String { rawValue }

        var plot: LinePlot {
            let texts = LinePlot(title: "title", xLabel: "token position", yLabel: "latency (ms)")
            func with(_ series: [LinePlot.Series]) -> LinePlot {
                var plot = texts
                plot.series = series
                return plot
            }
            switch self {
            case .noSeries: return texts
            case .emptySeries: return with([.init(name: "empty", points: [])])
            case .singlePoint: return with([.init(name: "one", points: [(1, 1)])])
            case .allNaN: return with([.init(name: "nan", x: [.nan, .nan], y: [.nan, 1])])
            case .mixedNonFinite:
                return with([.init(name: "mixed", x: [0, .infinity, 2, 3, -.infinity, 5], y: [1, 2, .nan, -.infinity, 4, .infinity])])
            case .allEqualY: return with([.init(name: "flat", x: [0, 1, 2, 3], y: [7, 7, 7, 7])])
            case .allZeroY: return with([.init(name: "zero", x: [0, 1, 2, 3], y: [0, 0, 0, 0])])
            case .allEqualX: return with([.init(name: "vertical", x: [4, 4, 4], y: [1, 5, 9])])
            case .negativeValues: return with([.init(name: "negative", x: [-5, -1, 3], y: [-10, -0.5, -3])])
            case .hugeValues:
                return with([.init(name: "huge", x: [-.greatestFiniteMagnitude, 0, .greatestFiniteMagnitude],
                                   y: [.greatestFiniteMagnitude, 1e308, -.greatestFiniteMagnitude])])
            case .tinyValues:
                return with([.init(name: "tiny", x: [0, .leastNonzeroMagnitude, 2 * .leastNonzeroMagnitude],
                                   y: [.leastNonzeroMagnitude, .leastNormalMagnitude / 1e4, 0])])
            case .manyPoints:
                return with([.init(name: "many", x: (0..<100_000).map(Double.init), y: (0..<100_000).map { Double($0 % 97) })])
            case .manySeries:
                return with((0..<20).map { index in .init(name: "series \(index)", points: [(0, Double(index)), (1, Double(20 - index))]) })
            case .unicodeTexts:
                var plot = with([.init(name: "Zürich 🙂", points: [(0, 1), (1, 2)])])
                plot.title = "Latenz — €\n\t"
                return plot
            case .emptyTexts:
                return LinePlot(series: [.init(name: "", points: [(0, 1), (1, 2)])])
            case .veryLongTexts:
                let long = String(repeating: "without cache ", count: 60)
                var plot = with([.init(name: long, points: [(0, 1), (1, 2)])])
                plot.title = long
                plot.xLabel = long
                plot.yLabel = long
                return plot
            }
        }
    }

    @Test(arguments: DegenerateInput.allCases)
    func degenerateInputStillGivesAValidPNG(_ input: DegenerateInput) throws {
        let image = try Self.decode(input.plot)
        #expect(image.width == 600 && image.height == 400)
        #expect(image.pixel(x: 0, y: 399) == [255, 255, 255])
    }

    @Test(arguments: [
        (requested: (width: 0, height: 0), expected: (width: 1, height: 1)),
        (requested: (width: -3, height: 7), expected: (width: 1, height: 7)),
        (requested: (width: 1, height: 1), expected: (width: 1, height: 1)),
        (requested: (width: 15, height: 10), expected: (width: 15, height: 10)),
        (requested: (width: 300, height: 200), expected: (width: 300, height: 200)),
        (requested: (width: 2_000, height: 90), expected: (width: 2_000, height: 90)),
    ])
    func anyRequestedSizeGivesAValidPNG(requested: (width: Int, height: Int), expected: (width: Int, height: Int)) throws {
        let plot = LinePlot(title: "decode latency", xLabel: "token position", yLabel: "ms",
                            series: [.init(name: "with KV cache", points: [(0, 1), (10, 2)])])
        let image = try Self.decode(plot, width: requested.width, height: requested.height)
        #expect(image.width == expected.width && image.height == expected.height)
    }
}
