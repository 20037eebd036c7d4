/// An opaque 8-bit sRGB colour.
public struct Color: Sendable, Hashable {
    public var red: UInt8
    public var green: UInt8
    public var blue: UInt8

    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    public static let white = Color(red: 255, green: 255, blue: 255)
    public static let black = Color(red: 0, green: 0, blue: 0)
    public static let blue = Color(red: 31, green: 119, blue: 180)
    public static let orange = Color(red: 255, green: 127, blue: 14)
    public static let green = Color(red: 44, green: 160, blue: 44)
    public static let red = Color(red: 214, green: 39, blue: 40)
    public static let purple = Color(red: 148, green: 103, blue: 189)
    public static let brown = Color(red: 140, green: 86, blue: 75)
    public static let pink = Color(red: 227, green: 119, blue: 194)
    public static let gray = Color(red: 127, green: 127, blue: 127)

    /// Colours given to series that do not choose one, in order. They are far
    /// apart in hue so adjacent series stay distinguishable.
    public static let seriesPalette: [Color] = [.blue, .orange, .green, .red, .purple, .brown, .pink, .gray]
}
