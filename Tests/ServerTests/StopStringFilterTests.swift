import Testing
@testable import Server

@Suite struct StopStringFilterTests {
    @Test func aStopStringAcrossPiecesEndsTheTextBeforeIt() {
        var filter = StopStringFilter(stops: ["\n\nUser:"])
        #expect(filter.append("Paris is") == .text("Paris is"))
        #expect(filter.append(" nice.\n") == .text(" nice."))  // "\n" might start the stop string
        #expect(filter.append("\nUs") == .text(""))
        #expect(filter.append("er: hi") == .stopped(""))
    }

    @Test func aFalseStartIsReleased() {
        var filter = StopStringFilter(stops: ["END"])
        #expect(filter.append("EN") == .text(""))
        #expect(filter.append("D") == .stopped(""))
        var other = StopStringFilter(stops: ["END"])
        #expect(other.append("EN") == .text(""))
        #expect(other.append("ough") == .text("ENough"))
        #expect(other.append("E") == .text(""))
        #expect(other.finish() == "E")
    }

    @Test func theEarliestOfSeveralStopsWins() {
        var filter = StopStringFilter(stops: ["b", "a"])
        #expect(filter.append("xxaxb") == .stopped("xx"))
    }

    @Test func withoutStopsEverythingPasses() {
        var filter = StopStringFilter(stops: [])
        #expect(filter.append("a\n") == .text("a\n"))
        #expect(filter.finish() == "")
    }
}
