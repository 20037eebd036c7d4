/// The tokens allowed at one step, stored as whichever list is shorter:
/// the allowed ids (structure: a few) or the refused ones (inside a string:
/// almost everything is allowed), so applying it costs little either way.
public struct TokenMask: Sendable, Equatable {
    /// Sorted ids: the allowed ones, or the refused ones when `listsRefused`.
    let ids: [Int32]
    let listsRefused: Bool
    public let vocabularySize: Int

    /// From sorted, distinct allowed ids.
    init(allowed: [Int32], vocabularySize: Int) {
        self.vocabularySize = vocabularySize
        if allowed.count * 2 <= vocabularySize {
            ids = allowed
            listsRefused = false
        } else {
            var refused: [Int32] = []
            refused.reserveCapacity(vocabularySize - allowed.count)
            var next = 0
            for id in 0..<Int32(vocabularySize) {
                if next < allowed.count && allowed[next] == id { next += 1 } else { refused.append(id) }
            }
            ids = refused
            listsRefused = true
        }
    }

    public var allowedCount: Int { listsRefused ? vocabularySize - ids.count : ids.count }

    public func allows(_ token: Int32) -> Bool {
        guard token >= 0 && Int(token) < vocabularySize else { return false }
        var low = 0, high = ids.count
        while low < high {
            let mid = (low + high) / 2
            if ids[mid] < token { low = mid + 1 } else { high = mid }
        }
        let listed = low < ids.count && ids[low] == token
        return listed != listsRefused
    }

    /// The allowed ids, in order.
    public var allowedTokens: [Int32] {
        guard listsRefused else { return ids }
        var allowed: [Int32] = [], next = 0
        allowed.reserveCapacity(allowedCount)
        for id in 0..<Int32(vocabularySize) {
            if next < ids.count && ids[next] == id { next += 1 } else { allowed.append(id) }
        }
        return allowed
    }

    /// This mask without `tokens` (sorted).
    func removing(_ tokens: [Int32]) -> TokenMask {
        guard !tokens.isEmpty else { return self }
        if !listsRefused {
            let gone = Set(tokens)
            return TokenMask(ids: ids.filter { !gone.contains($0) }, listsRefused: false, vocabularySize: vocabularySize)
        }
        // Merge the two sorted lists of refused ids.
        var merged: [Int32] = []
        merged.reserveCapacity(ids.count + tokens.count)
        var i = 0, j = 0
        while i < ids.count || j < tokens.count {
            if j == tokens.count || i < ids.count && ids[i] < tokens[j] { merged.append(ids[i]); i += 1 }
            else if i == ids.count || tokens[j] < ids[i] { merged.append(tokens[j]); j += 1 }
            else { merged.append(ids[i]); i += 1; j += 1 }
        }
        return TokenMask(ids: merged, listsRefused: true, vocabularySize: vocabularySize)
    }

    private init(ids: [Int32], listsRefused: Bool, vocabularySize: Int) {
        self.ids = ids
        self.listsRefused = listsRefused
        self.vocabularySize = vocabularySize
    }

    /// Sets every refused token's logit to -infinity (logits beyond the
    /// vocabulary, if the model has padding rows, too).
    public func apply(to logits: inout [Float]) {
        logits.withUnsafeMutableBufferPointer { l in
            if listsRefused {
                for id in ids where Int(id) < l.count { l[Int(id)] = -.infinity }
                for i in vocabularySize..<max(vocabularySize, l.count) { l[i] = -.infinity }
            } else {
                var kept = [Float](repeating: 0, count: ids.count)
                for (k, id) in ids.enumerated() { kept[k] = Int(id) < l.count ? l[Int(id)] : -.infinity }
                for i in l.indices { l[i] = -.infinity }
                for (k, id) in ids.enumerated() where Int(id) < l.count { l[Int(id)] = kept[k] }
            }
        }
    }
}
