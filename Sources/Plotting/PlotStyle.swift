/// Sizes and colours of chart furniture. Sizes are multiples of the font
/// scale so the whole chart grows together on larger images.
struct PlotStyle: Sendable {
    /// Below this smaller-side size, 2x text would crowd out the data.
    static let largeTextMinimumSide = 400

    let textScale: Int

    init(width: Int, height: Int) {
        textScale = min(width, height) >= Self.largeTextMinimumSide ? 2 : 1
    }

    var padding: Int { 10 * textScale }
    var tickLength: Int { 4 * textScale }
    var tickLabelGap: Int { 3 * textScale }
    var seriesLineThickness: Int { textScale }
    var markerSide: Int { 2 * textScale + 3 }
    var swatchLength: Int { 18 * textScale }
    var swatchThickness: Int { 2 * textScale + 1 }
    var swatchToNameGap: Int { 5 * textScale }
    var legendEntrySpacing: Int { 18 * textScale }
    var legendRowGap: Int { 4 * textScale }
    /// Full height of a line of text, descenders included.
    var textThickness: Int { BitmapFont.glyphHeight * textScale }
    /// Height of capitals and digits, for centring labels on tick positions.
    var capitalHeight: Int { 7 * textScale }

    /// Series with at most this many points get a marker on each point;
    /// denser series would just turn into a thick smudge.
    let markerPointLimit = 30

    let background = Color.white
    let textColor = Color(red: 34, green: 34, blue: 34)
    let axisColor = Color(red: 68, green: 68, blue: 68)
    let gridColor = Color(red: 226, green: 226, blue: 226)
}
