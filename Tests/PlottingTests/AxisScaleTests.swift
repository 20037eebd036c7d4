import Testing
@testable import Plotting

@Suite struct AxisScaleTests {
    @Test(arguments: [
        (span: 100.0, target: 5, step: 20.0),
        (span: 1.0, target: 5, step: 0.2),
        (span: 0.003, target: 3, step: 0.001),
        (span: 97.0, target: 10, step: 10.0),
        (span: 161.0, target: 7, step: 50.0),
        (span: 12_345.0, target: 6, step: 5_000.0),
    ])
    func niceStepForKnownSpans(span: Double, target: Int, step: Double) {
        #expect(abs(AxisScale.niceStep(span: span, targetTickCount: target) - step) <= step * 1e-12)
    }

    /// Over spans from 1e-6 to 1e9, the step is 1, 2 or 5 times a power of ten,
    /// gives at most `target` intervals, and is never more than 2.5x the raw
    /// step (the largest gap between consecutive nice multipliers).
    @Test func niceStepsAreOneTwoOrFiveTimesAPowerOfTen() {
        var span = 1e-6
        while span < 1e9 {
            for target in [3, 5, 7, 10] {
                let step = AxisScale.niceStep(span: span, targetTickCount: target)
                var mantissa = step
                while mantissa >= 10 { mantissa /= 10 }
                while mantissa < 1 { mantissa *= 10 }
                #expect([1.0, 2.0, 5.0].contains { abs(mantissa - $0) < 1e-6 }, "span \(span): step \(step)")
                #expect(span / step <= Double(target) + 1e-9, "span \(span): step \(step)")
                #expect(step <= 2.5 * span / Double(target) * (1 + 1e-9), "span \(span): step \(step)")
            }
            span *= 1.37
        }
    }

    @Test func valueAxisStartsAtZeroAndEndsOnATick() {
        let axis = AxisScale.includingZero(dataMin: 3.2, dataMax: 161, targetTickCount: 7)
        #expect(axis.lowerBound == 0)
        #expect(axis.upperBound == 200)
        #expect(axis.ticks == [0, 50, 100, 150, 200])
    }

    @Test func valueAxisForNegativeDataEndsAtZero() {
        let axis = AxisScale.includingZero(dataMin: -7, dataMax: -2, targetTickCount: 7)
        #expect(axis.lowerBound == -7)
        #expect(axis.upperBound == 0)
        #expect(axis.ticks == [-7, -6, -5, -4, -3, -2, -1, 0])
    }

    @Test func valueAxisForAllZeroDataIsZeroToOne() {
        let axis = AxisScale.includingZero(dataMin: 0, dataMax: 0, targetTickCount: 5)
        #expect(axis.lowerBound == 0)
        #expect(axis.upperBound == 1)
    }

    /// Decades around the data; a value's place is its logarithm's: 10 sits
    /// half-way between 1 and 100, 2 at log10(2) of the way from 1 to 10.
    @Test func logarithmicAxisSpansWholeDecades() {
        let wide = AxisScale.logarithmic(dataMin: 4.2, dataMax: 13_000)
        #expect(wide.lowerBound == 1 && wide.upperBound == 100_000)
        #expect(wide.ticks == [1, 10, 100, 1_000, 10_000, 100_000])
        #expect(wide.label(for: 1_000) == "1000")
        let narrow = AxisScale.logarithmic(dataMin: 3, dataMax: 60)
        #expect(narrow.ticks == [1, 2, 5, 10, 20, 50, 100])
        #expect(abs(narrow.fraction(of: 10) - 0.5) < 1e-12)
        #expect(abs(narrow.fraction(of: 2) - 0.150_514_997_831_990_6) < 1e-12)
        #expect(AxisScale.logarithmic(dataMin: 0.02, dataMax: 0.5).label(for: 0.05) == "0.05")
    }

    @Test func positionAxisSpansExactlyTheData() {
        let axis = AxisScale.fitting(dataMin: 1, dataMax: 128, targetTickCount: 9)
        #expect(axis.lowerBound == 1)
        #expect(axis.upperBound == 128)
        #expect(axis.ticks == [20, 40, 60, 80, 100, 120])
    }

    @Test func positionAxisAroundASingleValueIsNotEmpty() {
        let axis = AxisScale.fitting(dataMin: 10, dataMax: 10, targetTickCount: 5)
        #expect(axis.lowerBound < 10 && axis.upperBound > 10)
        #expect(axis.fraction(of: 10) == 0.5)
    }

    @Test func fractionIsZeroAtTheLowerAndOneAtTheUpperBound() {
        let axis = AxisScale.includingZero(dataMin: 0, dataMax: 40, targetTickCount: 4)
        #expect(axis.fraction(of: axis.lowerBound) == 0)
        #expect(axis.fraction(of: axis.upperBound) == 1)
    }

    @Test func labelsShareTheDecimalsTheStepNeeds() {
        let halves = AxisScale.includingZero(dataMin: 0, dataMax: 1, targetTickCount: 2)
        #expect(halves.ticks.map(halves.label(for:)) == ["0.0", "0.5", "1.0"])

        let twenties = AxisScale.includingZero(dataMin: 0, dataMax: 97, targetTickCount: 5)
        #expect(twenties.ticks.map(twenties.label(for:)) == ["0", "20", "40", "60", "80", "100"])

        let small = AxisScale.includingZero(dataMin: -0.0004, dataMax: 0.0004, targetTickCount: 4)
        #expect(small.ticks.map(small.label(for:)) == ["-0.0004", "-0.0002", "0.0000", "0.0002", "0.0004"])
    }

    @Test func aValueThatRoundsToZeroIsNotLabelledMinusZero() {
        let axis = AxisScale.includingZero(dataMin: 0, dataMax: 1, targetTickCount: 5)
        #expect(axis.label(for: 0.1 * 3 - 0.3 - 1e-17) == "0.0")
        #expect(axis.label(for: -0.0) == "0.0")
    }

    @Test(arguments: [(1e-300, 3e-300), (0, 1e300), (-1e300, 1e300), (Double.leastNonzeroMagnitude, Double.leastNonzeroMagnitude), (1e15, 1e15 + 4)])
    func extremeRangesGiveFiniteTicksAndLabels(low: Double, high: Double) {
        for axis in [AxisScale.includingZero(dataMin: low, dataMax: high, targetTickCount: 5),
                     AxisScale.fitting(dataMin: low, dataMax: high, targetTickCount: 5)] {
            #expect(axis.lowerBound.isFinite && axis.upperBound.isFinite && axis.upperBound > axis.lowerBound)
            #expect(!axis.ticks.isEmpty && axis.ticks.count <= 1_000)
            #expect(axis.ticks.allSatisfy { $0.isFinite })
            #expect(axis.ticks.allSatisfy { !axis.label(for: $0).isEmpty })
        }
    }
}
