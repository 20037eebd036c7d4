/// A string `format` the grammar writes exactly: a fixed-length text,
/// quotes included, made of pieces, each a few alternatives of byte
/// classes of one length (a month is `0[1-9]` or `1[0-2]`). Every text it
/// admits is valid for the format; it need not admit every valid one
/// (days stop at 28, so any month takes them; times are in UTC, `Z`).
///
/// A format frame keeps the bytes written and the alternatives of the
/// current piece still alive; the distance to the end is the bytes left.
struct StringFormat: Sendable {
    typealias Piece = [[ByteSet]]

    let name: String
    let pieces: [Piece]
    /// Where each piece begins, and the whole length as the last entry.
    let starts: [Int]
    var length: Int { starts[starts.count - 1] }

    init(_ name: String, _ pieces: [Piece]) {
        self.name = name
        self.pieces = pieces
        var starts = [0]
        for piece in pieces {
            precondition(!piece.isEmpty && piece.allSatisfy { $0.count == piece[0].count }, "\(name): alternatives of unequal length")
            starts.append(starts.last! + piece[0].count)
        }
        self.starts = starts
    }

    /// The piece holding byte `position`.
    func piece(at position: Int) -> Int {
        var p = 0
        while starts[p + 1] <= position { p += 1 }
        return p
    }

    /// Every alternative of piece `p`, as a bit mask.
    func allAlive(_ p: Int) -> Int32 { p < pieces.count ? Int32((1 << pieces[p].count) - 1) : 0 }

    /// The formats written, by name.
    static func named(_ name: String) -> StringFormat? { all.first { $0.name == name } }

    static let supportedNames = all.map(\.name)

    private static func one(_ text: String) -> Piece { [text.utf8.map { ByteSet([$0]) }] }
    private static func digits(_ classes: String...) -> [ByteSet] {
        classes.map { c in
            let bounds = Array(c.utf8)
            return ByteSet(bounds.count == 1 ? [bounds[0]] : Array(bounds[0]...bounds[1]))
        }
    }

    private static let hex = ByteSet(Array(UInt8(ascii: "0")...UInt8(ascii: "9")) + Array(UInt8(ascii: "a")...UInt8(ascii: "f")))
    private static func hexes(_ n: Int) -> Piece { [[ByteSet](repeating: hex, count: n)] }

    // Years 1000-9999 (Python's date has no year 0); months 01-12; days 01-28.
    private static let date: [Piece] = [
        [digits("19", "09", "09", "09")], one("-"),
        [digits("0", "19"), digits("1", "02")], one("-"),
        [digits("0", "19"), digits("1", "09"), digits("2", "08")],
    ]
    private static let time: [Piece] = [
        [digits("01", "09"), digits("2", "03")], one(":"), [digits("05", "09")], one(":"), [digits("05", "09")], one("Z"),
    ]
    private static let quote = one("\"")

    static let all: [StringFormat] = [
        StringFormat("date", [quote] + date + [quote]),
        StringFormat("time", [quote] + time + [quote]),
        StringFormat("date-time", [quote] + date + [one("T")] + time + [quote]),
        StringFormat("uuid", [quote, hexes(8), one("-"), hexes(4), one("-"), hexes(4), one("-"), hexes(4), one("-"), hexes(12), quote]),
    ]
}
