import Model

/// Drafts a continuation from the sequence's own tokens (prompt lookup):
/// the longest suffix of `n` tokens, from `longest` down to `shortest`,
/// that occurred earlier, and up to `length` tokens that followed its
/// latest earlier occurrence. Work grounded in the input (an edit, a quotation,
/// repeated JSON keys) repeats itself; prose rarely does.
struct PromptLookup: Sendable {
    var longest = 3
    var shortest = 2

    func draft(_ tokens: [TokenID], length: Int) -> [TokenID] {
        let count = tokens.count
        for n in stride(from: longest, through: shortest, by: -1) where count > n {
            let suffix = tokens[(count - n)...]
            // Latest first: the nearest repetition is the likeliest to continue.
            for start in stride(from: count - n - 1, through: 0, by: -1) where tokens[start..<(start + n)].elementsEqual(suffix) {
                return Array(tokens[(start + n)..<min(start + n + length, count)])
            }
        }
        return []
    }
}
