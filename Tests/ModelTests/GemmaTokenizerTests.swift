import Foundation
import Testing
import TestSupport
@testable import Model

/// Gemma 3's SentencePiece tokenizer (262,144 pieces, no space prefix)
/// against llama.cpp's llama-tokenize on the strings of
/// scripts/fixtures/make_tokenizer_fixtures.py --vocab gemma3.
@Suite(.enabled(if: TestResources.gemmaPresent, TestResources.gemmaMissingNote))
struct GemmaTokenizerTests {
    static let tokenizer: Result<Tokenizer, Error> = Result { try Tokenizer(TestResources.gemma.get()) }

    @Test func matchesLlamaTokenize() throws {
        let tokenizer = try Self.tokenizer.get()
        let fixture = try TestResources.decode(TokenizerFixture.self, "tokenizer/gemma3-llama-tokenize.json")
        #expect(fixture.cases.count >= 60)
        for c in fixture.cases {
            #expect(tokenizer.encode(c.text, parseSpecial: c.parse_special) == c.ids, "\(c.text.debugDescription) special=\(c.parse_special)")
            // SentencePiece cannot tell a typed U+2581 from a space.
            let expected = c.text.replacingOccurrences(of: "\u{2581}", with: " ")
            #expect(Array(tokenizer.decode(c.ids).utf8) == Array(expected.utf8), "decode \(c.text.debugDescription)")
        }
    }

    @Test func addsBOSWhenAskedAndKeepsTurnMarkersSpecial() throws {
        let tokenizer = try Self.tokenizer.get()
        #expect(tokenizer.vocabulary.addBOS && tokenizer.vocabulary.bos == 2)
        let ids = tokenizer.encode("<start_of_turn>user\nHi<end_of_turn>", addSpecial: true, parseSpecial: true)
        #expect(ids.first == 2)
        let start = tokenizer.encode("<start_of_turn>", parseSpecial: true)
        #expect(start.count == 1)
        #expect(!tokenizer.encode("<start_of_turn>", parseSpecial: false).contains(start[0]))
    }
}
