/// A rectangle of whole pixels; `maxX`/`maxY` are the last columns/rows inside.
struct PixelRect: Sendable, Equatable {
    var x: Int
    var y: Int
    var width: Int
    var height: Int

    var maxX: Int { x + width - 1 }
    var maxY: Int { y + height - 1 }
}

struct LegendEntry: Sendable {
    let name: String
    let color: Color
    let swatch: PixelRect
    let nameX: Int
    let nameY: Int
}

/// Where each part of the chart goes. Margins are sized from the actual
/// texts (title, tick labels, legend names) so nothing overlaps the data.
struct PlotLayout: Sendable {
    let titleOrigin: (x: Int, y: Int)?
    let legend: [LegendEntry]
    let xLabelOrigin: (x: Int, y: Int)?
    /// Bottom-left anchor for the upward-running y label.
    let yLabelOrigin: (x: Int, y: Int)?
    let plotArea: PixelRect

    /// Too small an area to draw axes and data into; the chart then shows
    /// only its texts.
    var hasDrawablePlotArea: Bool { plotArea.width >= 2 && plotArea.height >= 2 }

    init(width: Int, height: Int, style: PlotStyle, plot: LinePlot,
         series: [PlottableSeries], xAxis: AxisScale, yAxis: AxisScale) {
        let scale = style.textScale
        var top = style.padding

        if plot.title.isEmpty {
            titleOrigin = nil
        } else {
            titleOrigin = (x: Self.centred(Canvas.textExtent(plot.title, scale: scale).length, in: width, padding: style.padding), y: top)
            top += style.textThickness + style.padding
        }

        let legendResult = Self.legendEntries(series: series, width: width, top: top, style: style)
        legend = legendResult.entries
        if legendResult.height > 0 { top += legendResult.height + style.padding }

        let widestYTickLabel = yAxis.ticks.map { Canvas.textExtent(yAxis.label(for: $0), scale: scale).length }.max() ?? 0
        let widestXTickLabel = xAxis.ticks.map { Canvas.textExtent(xAxis.label(for: $0), scale: scale).length }.max() ?? 0
        let yLabelBand = plot.yLabel.isEmpty ? 0 : style.textThickness + style.padding / 2
        let xLabelBand = plot.xLabel.isEmpty ? 0 : style.textThickness + style.padding / 2

        let left = style.padding + yLabelBand + widestYTickLabel + style.tickLabelGap + style.tickLength
        let bottom = style.padding + xLabelBand + style.textThickness + style.tickLabelGap + style.tickLength
        // The last x tick label is centred on its tick and may hang past the plot.
        let right = style.padding + widestXTickLabel / 2
        plotArea = PixelRect(x: left, y: top, width: width - left - right, height: height - top - bottom)

        if plot.xLabel.isEmpty {
            xLabelOrigin = nil
        } else {
            let length = Canvas.textExtent(plot.xLabel, scale: scale).length
            xLabelOrigin = (x: plotArea.x + (plotArea.width - length) / 2, y: height - style.padding - style.textThickness)
        }
        if plot.yLabel.isEmpty {
            yLabelOrigin = nil
        } else {
            let length = Canvas.textExtent(plot.yLabel, scale: scale).length
            yLabelOrigin = (x: style.padding, y: plotArea.y + (plotArea.height + length) / 2)
        }
    }

    /// Left edge that centres `length` pixels, or the padding when it cannot fit
    /// (so the start of a long text stays readable and the end is clipped).
    private static func centred(_ length: Int, in width: Int, padding: Int) -> Int {
        max(padding, (width - length) / 2)
    }

    /// The legend sits in its own band between title and plot rather than over
    /// the data: latency curves can fill any corner of the plot area.
    /// Entries flow left to right and wrap; each row is centred.
    private static func legendEntries(series: [PlottableSeries], width: Int, top: Int, style: PlotStyle)
        -> (entries: [LegendEntry], height: Int) {
        let named = series.filter { !$0.name.isEmpty }
        guard !named.isEmpty else { return ([], 0) }

        let available = width - 2 * style.padding
        var rows: [[(series: PlottableSeries, width: Int)]] = [[]]
        var rowWidth = 0
        for item in named {
            let entryWidth = style.swatchLength + style.swatchToNameGap
                + Canvas.textExtent(item.name, scale: style.textScale).length
            let widthIfAdded = rowWidth == 0 ? entryWidth : rowWidth + style.legendEntrySpacing + entryWidth
            if rowWidth > 0 && widthIfAdded > available {
                rows.append([])
                rowWidth = entryWidth
            } else {
                rowWidth = widthIfAdded
            }
            rows[rows.count - 1].append((item, entryWidth))
        }

        var entries: [LegendEntry] = []
        var rowTop = top
        for row in rows {
            let totalWidth = row.map(\.width).reduce(0, +) + style.legendEntrySpacing * (row.count - 1)
            var x = centred(totalWidth, in: width, padding: style.padding)
            for (item, entryWidth) in row {
                let swatchY = rowTop + (style.capitalHeight - style.swatchThickness) / 2
                entries.append(LegendEntry(
                    name: item.name,
                    color: item.color,
                    swatch: PixelRect(x: x, y: swatchY, width: style.swatchLength, height: style.swatchThickness),
                    nameX: x + style.swatchLength + style.swatchToNameGap,
                    nameY: rowTop))
                x += entryWidth + style.legendEntrySpacing
            }
            rowTop += style.textThickness + style.legendRowGap
        }
        return (entries, rowTop - style.legendRowGap - top)
    }
}
