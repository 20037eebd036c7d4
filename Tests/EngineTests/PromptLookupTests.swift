import Testing
@testable import Engine

/// Prompt lookup on hand-worked token sequences.
struct PromptLookupTests {
    @Test func theLongestLatestMatchGivesTheDraft() {
        let lookup = PromptLookup(longest: 3, shortest: 1)
        // "1 2 3 4 5 6 ... 1 2 3": the 3-gram 1 2 3 occurred at 0; what followed it is 4 5 6 7.
        #expect(lookup.draft([1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3], length: 4) == [4, 5, 6, 7])
        // Two earlier occurrences of 2 3: the latest (at 5) wins.
        #expect(lookup.draft([2, 3, 4, 0, 9, 2, 3, 8, 7, 2, 3], length: 4) == [8, 7, 2, 3])
        // No 3- or 2-gram repeats; the 1-gram 5 does, near the end: only what follows it.
        #expect(lookup.draft([5, 6, 1, 2, 5], length: 4) == [6, 1, 2, 5])
        #expect(lookup.draft([1, 2, 3], length: 4) == [])
        #expect(lookup.draft([], length: 4) == [])
        // A draft stops at the end of the sequence.
        #expect(PromptLookup(longest: 2, shortest: 2).draft([7, 8, 9, 7, 8], length: 8) == [9, 7, 8])
        // As many as asked for, and none for none.
        #expect(lookup.draft([1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3], length: 2) == [4, 5])
        #expect(lookup.draft([1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3], length: 0) == [])
    }
}
