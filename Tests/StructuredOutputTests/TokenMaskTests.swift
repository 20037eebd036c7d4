import JSONTree
import Testing
import Model
@testable import StructuredOutput

/// The trie walk against brute force: a token is allowed exactly when the
/// automaton accepts all of its bytes from the state (and, under a budget,
/// leaves a completion in reach); end-of-generation exactly when the output
/// is complete. Checked on states met along random outputs.
@Suite struct TokenMaskTests {
    /// A small vocabulary: every byte, JSON fragments, and pieces that
    /// cross structure (`",`, `"}`), partial UTF-8 and control tokens (nil).
    static let pieces: [[UInt8]?] = {
        var p: [[UInt8]?] = (0..<256).map { [UInt8($0)] }
        for s in ["{\"", "\":", "\",", "\"}", "}}", "],", "true", "false", "null", "nu", "12", "-0.5e", "é", "日本", "\\u00", "\\n",
                  "name", "\"name\"", "\"age\":", " {", "\n  ", "  ", ",\"", "[\"", "\"]", "e+", "0.", ":\"", "\": \"", "ab\"c"] {
            p.append(Array(s.utf8))
        }
        p.append([0xE6, 0x97])  // the first two bytes of 日
        p.append([0xA5])
        p.append(nil)  // a control token
        p.append(Array("name".utf8))  // a duplicate text
        return p
    }()
    static let endOfGeneration: TokenID = TokenID(pieces.count)

    func bruteForce(_ masks: TokenMaskCache, _ state: GrammarState, limit: Int) -> [Int32] {
        var allowed: [Int32] = []
        for (id, piece) in masks.trie.pieces.enumerated() {
            guard let piece, !state.isComplete else { continue }
            var s = state
            if s.advance(piece) && s.bytesToAccept <= limit { allowed.append(Int32(id)) }
        }
        if state.isAccepting { allowed += masks.endOfGeneration }
        return allowed.sorted()
    }

    @Test func trieWalkEqualsBruteForce() throws {
        let trie = TokenTrie(pieces: Self.pieces + [nil])
        let schemas = [
            #"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"enum":["a","b",1.5]},"maxItems":2}},"required":["age"],"additionalProperties":false}"#,
            #"{"type":"object"}"#,
            #"{"type":"array","items":{"type":"number"},"minItems":2}"#,
            #"{"anyOf":[{"type":"string"},{"type":"null"},{"type":"object","additionalProperties":{"type":"boolean"}}]}"#,
        ]
        var random = SplitMix64(seed: 7)
        for schema in schemas {
            let masks = TokenMaskCache(grammar: try JSONGrammar(schema: JSON.parse(schema)), trie: trie, endOfGeneration: [Self.endOfGeneration])
            for run in 0..<20 {
                var constraint = OutputConstraint(masks)
                let maxTokens = constraint.minimumTokens + run
                for step in 0..<maxTokens {
                    let remaining = maxTokens - step
                    let mask = constraint.mask(remainingTokens: remaining)
                    #expect(mask.allowedTokens == bruteForce(masks, constraint.state, limit: remaining - 2), "\(schema) step \(step)")
                    #expect(mask.allowedCount > 0, "dead end: \(schema) step \(step)")
                    guard let token = mask.allowedTokens.randomElement(using: &random) else { break }
                    let accepted = constraint.accept(token)
                    #expect(accepted)
                    if token == Self.endOfGeneration { break }
                }
                #expect(constraint.isAccepting, "\(schema) run \(run)")
            }
        }
    }

    @Test func maskAppliesToLogits() {
        let mask = TokenMask(allowed: [1, 3], vocabularySize: 5)
        var logits: [Float] = [5, 4, 3, 2, 1, 9]  // one row past the vocabulary
        mask.apply(to: &logits)
        let expected: [Float] = [-.infinity, 4, -.infinity, 2, -.infinity, -.infinity]
        #expect(logits == expected)
        let dense = TokenMask(allowed: [0, 1, 2, 4], vocabularySize: 5)
        var more: [Float] = [5, 4, 3, 2, 1]
        dense.apply(to: &more)
        let expectedMore: [Float] = [5, 4, 3, -.infinity, 1]
        #expect(more == expectedMore)
        #expect(dense.allowedTokens == [0, 1, 2, 4] && dense.allows(4) && !dense.allows(3))
    }

    @Test func controlTokensAreNeverAllowedAndEndOfGenerationOnlyWhenComplete() throws {
        let trie = TokenTrie(pieces: Self.pieces + [nil])
        let eog = Self.endOfGeneration
        let masks = TokenMaskCache(grammar: try JSONGrammar(schema: JSON.parse(#"{"type":"string"}"#)), trie: trie, endOfGeneration: [eog])
        var constraint = OutputConstraint(masks)
        let control = Int32(Self.pieces.firstIndex { $0 == nil }!)
        #expect(!constraint.mask(remainingTokens: 50).allows(control))
        #expect(!constraint.mask(remainingTokens: 50).allows(eog))
        let opened = constraint.accept(Int32(UInt8(ascii: "\"")))
        let closed = constraint.accept(Int32(UInt8(ascii: "\"")))
        #expect(opened && closed)
        #expect(constraint.isComplete)
        // Complete: end-of-generation is the only choice.
        #expect(constraint.mask(remainingTokens: 50).allowedTokens == [eog])
    }

    /// At the budget's edge only tokens that shorten the distance remain.
    @Test func budgetSteersToClose() throws {
        let trie = TokenTrie(pieces: Self.pieces + [nil])
        let masks = TokenMaskCache(grammar: try JSONGrammar(schema: JSON.parse(#"{"type":"object","properties":{"s":{"type":"string"}},"required":["s"],"additionalProperties":false}"#)),
                                   trie: trie, endOfGeneration: [Self.endOfGeneration])
        var constraint = OutputConstraint(masks)
        #expect(constraint.minimumTokens == 9)  // {"s":""} and end-of-generation
        for b in Array(#"{"s":"ab"#.utf8) {
            let accepted = constraint.accept(Int32(b))
            #expect(accepted)
        }
        #expect(constraint.state.bytesToAccept == 2)
        // Three tokens left: every allowed token closes the string (`"`, `"}`, or a last byte and `"`).
        let allowed = constraint.mask(remainingTokens: 3).allowedTokens
        #expect(allowed.allSatisfy { masks.trie.piece(of: $0)!.contains(UInt8(ascii: "\"")) }, "\(allowed.map { String(decoding: masks.trie.piece(of: $0)!, as: UTF8.self) })")
        #expect(allowed.contains(Int32(UInt8(ascii: "\""))))
        // Plenty left: letters too.
        #expect(constraint.mask(remainingTokens: 40).allows(Int32(UInt8(ascii: "x"))))
    }
}
