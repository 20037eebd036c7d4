/// A series reduced to what can be drawn: its resolved colour and its finite
/// points, split into runs wherever a non-finite point interrupted the data.
struct PlottableSeries: Sendable {
    /// Magnitudes are capped here so axis arithmetic (spans, nice rounding)
    /// cannot overflow to infinity; such a point just lands on the axis edge.
    static let largestMagnitude = 1e300

    let name: String
    let color: Color
    let runs: [[(x: Double, y: Double)]]
    var pointCount: Int { runs.reduce(0) { $0 + $1.count } }

    init(_ series: LinePlot.Series, index: Int, positiveYOnly: Bool = false) {
        name = series.name
        color = series.color ?? Color.seriesPalette[index % Color.seriesPalette.count]
        var runs: [[(x: Double, y: Double)]] = []
        var current: [(x: Double, y: Double)] = []
        for point in series.points {
            if point.x.isFinite && point.y.isFinite && (!positiveYOnly || point.y > 0) {
                current.append((x: Self.capped(point.x), y: Self.capped(point.y)))
            } else if !current.isEmpty {
                runs.append(current)
                current = []
            }
        }
        if !current.isEmpty { runs.append(current) }
        self.runs = runs
    }

    private static func capped(_ value: Double) -> Double {
        min(max(value, -largestMagnitude), largestMagnitude)
    }
}

/// The smallest box holding every point of every series; nil if none has any.
struct DataBounds: Sendable, Equatable {
    var minX: Double, maxX: Double, minY: Double, maxY: Double

    init?(_ series: [PlottableSeries]) {
        var bounds: DataBounds?
        for run in series.flatMap(\.runs) {
            for point in run {
                if var known = bounds {
                    known.minX = min(known.minX, point.x)
                    known.maxX = max(known.maxX, point.x)
                    known.minY = min(known.minY, point.y)
                    known.maxY = max(known.maxY, point.y)
                    bounds = known
                } else {
                    bounds = DataBounds(minX: point.x, maxX: point.x, minY: point.y, maxY: point.y)
                }
            }
        }
        guard let bounds else { return nil }
        self = bounds
    }

    private init(minX: Double, maxX: Double, minY: Double, maxY: Double) {
        self.minX = minX
        self.maxX = maxX
        self.minY = minY
        self.maxY = maxY
    }
}
