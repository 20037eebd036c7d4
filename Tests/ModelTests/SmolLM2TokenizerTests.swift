import Foundation
import Testing
@testable import Model

/// The default model's tokenizer against llama.cpp's llama-tokenize on the
/// strings in scripts/fixtures/make_tokenizer_fixtures.py.
@Suite(.enabled(if: TestResources.modelTestsEnabled, TestResources.modelMissingNote))
struct SmolLM2TokenizerTests {
    @Test func matchesLlamaTokenize() throws {
        let tokenizer = try TestResources.requireModel().tokenizer
        let fixture = try TestResources.decode(TokenizerFixture.self, "tokenizer/smollm2-llama-tokenize.json")
        #expect(fixture.cases.count >= 60)
        for c in fixture.cases {
            #expect(tokenizer.encode(c.text, parseSpecial: c.parse_special) == c.ids, "\(c.text.debugDescription) special=\(c.parse_special)")
            #expect(Array(tokenizer.decode(c.ids).utf8) == Array(c.text.utf8), "decode \(c.text.debugDescription)")
        }
    }

    @Test func specialTokensOnlyWhenAllowed() throws {
        let tokenizer = try TestResources.requireModel().tokenizer
        let text = "<|im_start|>user\nHi<|im_end|>\n"
        let parsed = tokenizer.encode(text, parseSpecial: true)
        #expect(parsed.first == 1 && parsed.contains(2))
        let plain = tokenizer.encode(text, parseSpecial: false)
        #expect(!plain.contains(1) && !plain.contains(2))
        // Control tokens print their text only when asked to.
        #expect(tokenizer.piece(1) == Array("<|im_start|>".utf8))
        #expect(tokenizer.piece(1, special: false) == [])
    }

    @Test func incrementalDetokenizerEmitsWholeCharacters() throws {
        let tokenizer = try TestResources.requireModel().tokenizer
        let text = "naïve 🙂 emoji 👩‍👩‍👧 and 日本語 text"
        let ids = tokenizer.encode(text)
        var detokenizer = IncrementalDetokenizer(tokenizer: tokenizer)
        var streamed = ""
        var splitSeen = false
        for id in ids {
            let piece = tokenizer.piece(id)
            let chunk = detokenizer.append(id)
            // A token holding part of a character emits nothing for it yet.
            if String(validating: piece, as: UTF8.self) == nil { splitSeen = true }
            streamed += chunk
        }
        streamed += detokenizer.finish()
        #expect(streamed == text)
        #expect(splitSeen, "the sample should split a character across tokens")
    }
}

@Suite struct IncrementalDetokenizerTests {
    @Test func holdsIncompleteCharactersAndReplacesInvalidBytes() {
        let split = IncrementalDetokenizer.splitCompleteCharacters
        #expect(split([0x61, 0xF0, 0x9F]) == ("a", [0xF0, 0x9F]))
        #expect(split([0xF0, 0x9F, 0x99, 0x82]) == ("🙂", []))
        #expect(split([0x61, 0xFF, 0x62]) == ("a\u{FFFD}b", []))
        #expect(split([0xE2, 0x28, 0x61]) == ("\u{FFFD}(a", []))
        #expect(split([0xED, 0xA0, 0x80]) == ("\u{FFFD}\u{FFFD}\u{FFFD}", []))  // a surrogate is never valid
        #expect(split([0x80]) == ("\u{FFFD}", []))
    }
}
