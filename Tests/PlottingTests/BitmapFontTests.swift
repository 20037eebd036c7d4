import Testing
@testable import Plotting

@Suite struct BitmapFontTests {
    static let printable: [Character] = (32...126).map { Character(UnicodeScalar(UInt8($0))) }

    @Test func everyPrintableASCIICharacterHasItsOwnGlyph() {
        let glyphs = Self.printable.map(BitmapFont.glyph(for:))
        #expect(Set(glyphs).count == 95, "two characters share a bitmap")
        #expect(!glyphs.contains(BitmapFont.replacementGlyph))
    }

    @Test func glyphsFitTheFiveByNineCell() {
        for character in Self.printable {
            let glyph = BitmapFont.glyph(for: character)
            #expect(glyph.count == 9, "\(character)")
            #expect(glyph.allSatisfy { $0 < 1 << 5 }, "\(character)")
        }
    }

    @Test func onlySpaceIsBlank() {
        for character in Self.printable {
            let isBlank = BitmapFont.glyph(for: character).allSatisfy { $0 == 0 }
            #expect(isBlank == (character == " "), "\(character)")
        }
    }

    /// Typographic truth: these letters descend below the baseline (rows 7-8)
    /// and capitals and digits never do.
    @Test func onlyDescendingCharactersUseTheDescenderRows() {
        let descending: Set<Character> = ["g", "j", "p", "q", "y", ",", "_"]
        for character in Self.printable {
            let glyph = BitmapFont.glyph(for: character)
            let usesDescender = glyph[7] != 0 || glyph[8] != 0
            #expect(usesDescender == descending.contains(character), "\(character)")
        }
    }

    @Test func hyphenIsOneHorizontalBarAndPipeOneVerticalBar() {
        let hyphen = BitmapFont.glyph(for: "-")
        #expect(hyphen.filter { $0 != 0 } == [0b11111])
        let pipe = BitmapFont.glyph(for: "|")
        #expect(pipe[0..<7].allSatisfy { $0 == 0b00100 })
    }

    @Test(arguments: ["é", "€", "\n", "\t", "🙂"] as [Character])
    func charactersOutsidePrintableASCIIGetTheReplacementBox(_ character: Character) {
        #expect(BitmapFont.glyph(for: character) == BitmapFont.replacementGlyph)
    }
}
