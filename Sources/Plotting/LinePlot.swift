/// A line chart of one or more series against a shared x axis, rendered to
/// PNG with the system's zlib as the only library.
///
/// The y axis always starts at zero (or below it, for negative data); the x
/// axis spans exactly the plotted x values. Points whose x or y is NaN or
/// infinite are skipped and break the line there, so a gap in the data shows
/// as a gap in the chart. Text uses a built-in ASCII font; other characters
/// are drawn as boxes.
public struct LinePlot: Sendable {
    public struct Series: Sendable {
        /// Shown in the legend; an empty name leaves the series out of it.
        public var name: String
        /// Drawn in order, joined by straight lines.
        public var points: [(x: Double, y: Double)]
        /// nil picks `Color.seriesPalette[index]` by the series' position.
        public var color: Color?

        public init(name: String, points: [(x: Double, y: Double)], color: Color? = nil) {
            self.name = name
            self.points = points
            self.color = color
        }

        /// Pairs `x[i]` with `y[i]`; extra values in the longer array are ignored.
        public init(name: String, x: [Double], y: [Double], color: Color? = nil) {
            self.init(name: name, points: zip(x, y).map { (x: $0, y: $1) }, color: color)
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]

    /// How y values map to heights.
    public enum Scale: Sendable {
        /// From zero (or the smallest negative value) up.
        case linear
        /// By their logarithm, over whole decades; points with y <= 0 cannot
        /// be placed and break the line like non-finite ones.
        case logarithmic
    }

    public var yScale: Scale

    public init(title: String = "", xLabel: String = "", yLabel: String = "", series: [Series] = [],
                yScale: Scale = .linear) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.yScale = yScale
    }

    /// The chart as PNG file bytes. Sizes below 1 pixel are raised to 1; text
    /// and margins scale up once the smaller side reaches 400 pixels.
    public func png(width: Int = 900, height: Int = 540) -> [UInt8] {
        render(width: width, height: height).png()
    }

    func render(width: Int, height: Int) -> Canvas {
        var renderer = LinePlotRenderer(plot: self, width: max(1, width), height: max(1, height))
        return renderer.render()
    }
}
