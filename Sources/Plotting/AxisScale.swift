#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The value range one chart axis shows and its tick marks, placed at
/// multiples of a "nice" step (1, 2 or 5 times a power of ten) so tick
/// labels are short round numbers.
struct AxisScale: Sendable, Equatable {
    let lowerBound: Double
    let upperBound: Double
    let step: Double
    let ticks: [Double]
    /// Digits after the decimal point that the step needs; nil when fixed
    /// notation would be absurd (tiny or huge magnitudes) and labels fall back
    /// to Swift's shortest round-trip form.
    let fractionDigits: Int?
    /// Whether values map to positions by their logarithm (see `logarithmic`).
    let isLogarithmic: Bool

    /// An axis for measured quantities (latency): always includes zero, so
    /// bar-like visual comparisons between series are not exaggerated, and
    /// extends to the next tick so the largest value is not on the frame.
    static func includingZero(dataMin: Double, dataMax: Double, targetTickCount: Int) -> AxisScale {
        var low = min(0, dataMin), high = max(0, dataMax)
        if !(high > low) { high = low + 1 }
        let step = niceStep(span: high - low, targetTickCount: targetTickCount)
        if step.isFinite, step > 0 {
            // The slack stops e.g. 1 / 0.2 = 5.000000000000001 from adding a
            // whole empty interval.
            let roundedLow = (low / step + 1e-9).rounded(.down) * step
            let roundedHigh = (high / step - 1e-9).rounded(.up) * step
            if roundedLow.isFinite, roundedHigh.isFinite {
                low = roundedLow
                high = roundedHigh
            }
        }
        return AxisScale(lowerBound: low, upperBound: high, step: step)
    }

    /// An axis for positions (token index): exactly the data range, so no
    /// empty band appears before the first or after the last point.
    static func fitting(dataMin: Double, dataMax: Double, targetTickCount: Int) -> AxisScale {
        var low = dataMin, high = dataMax
        if !(high > low) {
            // A single position still needs a non-empty range to map onto.
            let padding = max(1, abs(low) * 0.1)
            low -= padding
            high += padding
        }
        return AxisScale(lowerBound: low, upperBound: high,
                         step: niceStep(span: high - low, targetTickCount: targetTickCount))
    }

    /// An axis for positive quantities that span orders of magnitude (a
    /// cached decode step against a recomputed one): whole decades around
    /// the data, ticks at each power of ten, and at 2 and 5 times it when
    /// there are few decades.
    static func logarithmic(dataMin: Double, dataMax: Double) -> AxisScale {
        let low = dataMin > 0 && dataMin.isFinite ? dataMin : 1
        let high = dataMax > low && dataMax.isFinite ? dataMax : low * 10
        var first = log10(low).rounded(.down), last = log10(high).rounded(.up)
        if last <= first { last = first + 1 }
        first = max(first, -300); last = min(last, 300)
        var ticks: [Double] = []
        let multipliers: [Double] = last - first <= 2 ? [1, 2, 5] : [1]
        for exponent in Int(first)...Int(last) {
            for m in multipliers where exponent < Int(last) || m == 1 {
                ticks.append(m * pow(10, Double(exponent)))
            }
        }
        return AxisScale(logarithmicFrom: pow(10, first), to: pow(10, last), ticks: ticks)
    }

    private init(logarithmicFrom lowerBound: Double, to upperBound: Double, ticks: [Double]) {
        self.lowerBound = lowerBound
        self.upperBound = upperBound
        step = .nan
        self.ticks = ticks
        fractionDigits = nil
        isLogarithmic = true
    }

    /// The smallest 1/2/5 x 10^k step that divides `span` into at most
    /// `targetTickCount` intervals.
    static func niceStep(span: Double, targetTickCount: Int) -> Double {
        let rawStep = span / Double(max(1, targetTickCount))
        guard rawStep.isFinite, rawStep > 0 else { return .nan }
        let magnitude = pow(10, log10(rawStep).rounded(.down))
        let fraction = rawStep / magnitude
        // A tolerance keeps e.g. 0.30000000000000004 / 0.1 from choosing 5.
        let tolerance = 1e-9
        let multiplier: Double = fraction <= 1 + tolerance ? 1 : fraction <= 2 + tolerance ? 2 : fraction <= 5 + tolerance ? 5 : 10
        return multiplier * magnitude
    }

    private static let maximumTickCount = 1_000
    /// Beyond this, Double no longer has integer precision for tick indices.
    private static let maximumExactIndex = 1e15
    private static let maximumFractionDigits = 9

    private init(lowerBound: Double, upperBound: Double, step: Double) {
        self.lowerBound = lowerBound
        self.upperBound = upperBound
        self.step = step
        isLogarithmic = false

        let firstIndex = (lowerBound / step - 1e-9).rounded(.up)
        let lastIndex = (upperBound / step + 1e-9).rounded(.down)
        if step.isFinite, step > 0,
           abs(firstIndex) < Self.maximumExactIndex, abs(lastIndex) < Self.maximumExactIndex,
           firstIndex <= lastIndex, lastIndex - firstIndex < Double(Self.maximumTickCount) {
            // Multiplying an integer index (rather than accumulating steps)
            // keeps rounding error from drifting along the axis.
            ticks = (Int(firstIndex)...Int(lastIndex)).map { Double($0) * step }
            let digits = max(0, -Int(log10(step).rounded(.down)))
            let largest = max(abs(lowerBound), abs(upperBound))
            fractionDigits = digits <= Self.maximumFractionDigits && largest < Self.maximumExactIndex ? digits : nil
        } else {
            ticks = [lowerBound, upperBound]
            fractionDigits = nil
        }
    }

    /// Where `value` sits on the axis: 0 at the lower bound, 1 at the upper.
    func fraction(of value: Double) -> Double {
        if isLogarithmic {
            return (log10(value) - log10(lowerBound)) / (log10(upperBound) - log10(lowerBound))
        }
        return (value - lowerBound) / (upperBound - lowerBound)
    }

    /// All labels on an axis share the same number of decimals, so "0.5"
    /// sits next to "1.0" rather than "1".
    func label(for value: Double) -> String {
        guard let digits = fractionDigits else {
            // Whole numbers without a trailing ".0" (log axes: 1, 10, 100).
            if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
            return "\(value)"
        }
        var scale: Int64 = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = (value * Double(scale)).rounded()
        guard abs(scaled) < 9e18 else { return "\(value)" }
        let units = Int64(scaled)
        let magnitude = units.magnitude
        // "-0" would appear for values like -1e-12 that round to zero.
        let sign = units < 0 ? "-" : ""
        let whole = magnitude / UInt64(scale)
        guard digits > 0 else { return sign + String(whole) }
        let fractional = String(magnitude % UInt64(scale))
        let padding = String(repeating: "0", count: digits - fractional.count)
        return sign + String(whole) + "." + padding + fractional
    }
}
