/// Draws a `LinePlot` onto a canvas: axes and grid first, data over them,
/// texts last so nothing paints over a label.
struct LinePlotRenderer {
    let plot: LinePlot
    let style: PlotStyle
    let series: [PlottableSeries]
    let xAxis: AxisScale
    let yAxis: AxisScale
    let layout: PlotLayout
    private var canvas: Canvas

    init(plot: LinePlot, width: Int, height: Int) {
        self.plot = plot
        style = PlotStyle(width: width, height: height)
        let logarithmic = plot.yScale == .logarithmic
        series = plot.series.enumerated().map { PlottableSeries($0.element, index: $0.offset, positiveYOnly: logarithmic) }

        // With nothing to plot, show an empty 0...1 frame rather than no axes.
        let bounds = DataBounds(series)
        xAxis = AxisScale.fitting(dataMin: bounds?.minX ?? 0, dataMax: bounds?.maxX ?? 1,
                                  targetTickCount: max(2, min(10, width / 100)))
        yAxis = logarithmic
            ? AxisScale.logarithmic(dataMin: bounds?.minY ?? 1, dataMax: bounds?.maxY ?? 10)
            : AxisScale.includingZero(dataMin: bounds?.minY ?? 0, dataMax: bounds?.maxY ?? 1,
                                      targetTickCount: max(2, min(8, height / 70)))
        layout = PlotLayout(width: width, height: height, style: style, plot: plot,
                            series: series, xAxis: xAxis, yAxis: yAxis)
        canvas = Canvas(width: width, height: height, background: style.background)
    }

    mutating func render() -> Canvas {
        if layout.hasDrawablePlotArea {
            drawGridAndAxes()
            for item in series { drawSeries(item) }
        }
        drawLegend()
        drawTitleAndAxisLabels()
        return canvas
    }

    private mutating func drawGridAndAxes() {
        let area = layout.plotArea
        let scale = style.textScale

        for value in yAxis.ticks {
            let y = pixelY(value)
            canvas.fillRect(x: area.x, y: y, width: area.width, height: 1, color: style.gridColor)
            canvas.fillRect(x: area.x - style.tickLength, y: y, width: style.tickLength, height: 1, color: style.axisColor)
            let label = yAxis.label(for: value)
            let length = Canvas.textExtent(label, scale: scale).length
            canvas.drawText(label, x: area.x - style.tickLength - style.tickLabelGap - length,
                            y: y - style.capitalHeight / 2, scale: scale, color: style.textColor)
        }
        for value in xAxis.ticks {
            let x = pixelX(value)
            canvas.fillRect(x: x, y: area.y, width: 1, height: area.height, color: style.gridColor)
            canvas.fillRect(x: x, y: area.maxY + 1, width: 1, height: style.tickLength, color: style.axisColor)
            let label = xAxis.label(for: value)
            let length = Canvas.textExtent(label, scale: scale).length
            canvas.drawText(label, x: x - length / 2, y: area.maxY + 1 + style.tickLength + style.tickLabelGap,
                            scale: scale, color: style.textColor)
        }
        // Axis lines go over the grid lines that share their position.
        canvas.fillRect(x: area.x, y: area.y, width: 1, height: area.height, color: style.axisColor)
        canvas.fillRect(x: area.x, y: area.maxY, width: area.width, height: 1, color: style.axisColor)
    }

    private mutating func drawSeries(_ item: PlottableSeries) {
        let drawsMarkers = item.pointCount <= style.markerPointLimit
        for run in item.runs {
            let pixels = run.map { (x: pixelX($0.x), y: pixelY($0.y)) }
            for (start, end) in zip(pixels, pixels.dropFirst()) {
                canvas.drawLine(fromX: start.x, fromY: start.y, toX: end.x, toY: end.y,
                                thickness: style.seriesLineThickness, color: item.color)
            }
            // A lone point has no line through it, so it always needs a marker.
            if drawsMarkers || run.count == 1 {
                let inset = style.markerSide / 2
                for point in pixels {
                    canvas.fillRect(x: point.x - inset, y: point.y - inset,
                                    width: style.markerSide, height: style.markerSide, color: item.color)
                }
            }
        }
    }

    private mutating func drawLegend() {
        for entry in layout.legend {
            let swatch = entry.swatch
            canvas.fillRect(x: swatch.x, y: swatch.y, width: swatch.width, height: swatch.height, color: entry.color)
            canvas.drawText(entry.name, x: entry.nameX, y: entry.nameY, scale: style.textScale, color: style.textColor)
        }
    }

    private mutating func drawTitleAndAxisLabels() {
        let scale = style.textScale
        if let origin = layout.titleOrigin {
            canvas.drawText(plot.title, x: origin.x, y: origin.y, scale: scale, color: style.textColor)
        }
        if let origin = layout.xLabelOrigin {
            canvas.drawText(plot.xLabel, x: origin.x, y: origin.y, scale: scale, color: style.textColor)
        }
        if let origin = layout.yLabelOrigin {
            canvas.drawText(plot.yLabel, x: origin.x, y: origin.y, scale: scale, color: style.textColor, direction: .upward)
        }
    }

    private func pixelX(_ value: Double) -> Int {
        layout.plotArea.x + Self.offset(xAxis.fraction(of: value), across: layout.plotArea.width - 1)
    }

    /// Rows grow downwards, values upwards.
    private func pixelY(_ value: Double) -> Int {
        layout.plotArea.maxY - Self.offset(yAxis.fraction(of: value), across: layout.plotArea.height - 1)
    }

    /// Converts an axis fraction to a pixel offset. Clamping keeps rounding
    /// slop (and any value the axis does not cover) inside the plot area, and
    /// makes the Double-to-Int conversion unable to trap.
    private static func offset(_ fraction: Double, across length: Int) -> Int {
        guard fraction.isFinite else { return 0 }
        return Int((min(max(fraction, 0), 1) * Double(length)).rounded())
    }
}
