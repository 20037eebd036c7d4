import Foundation

/// Pearson's chi-square goodness-of-fit test, for draw counts against the
/// reference probabilities.
enum ChiSquare {
    /// P(X > x) for X chi-square with `degrees` degrees of freedom: the
    /// regularized upper incomplete gamma Q(degrees / 2, x / 2), by its
    /// series below a + 1 and its continued fraction above (Numerical Recipes 6.2).
    static func tail(_ x: Double, degrees: Int) -> Double {
        let a = Double(degrees) / 2, y = x / 2
        guard y > 0 else { return 1 }
        let prefix = exp(a * log(y) - y - lgamma(a))
        if y < a + 1 {
            var term = 1 / a, sum = term, n = a
            while term > sum * 1e-17 {
                n += 1
                term *= y / n
                sum += term
            }
            return max(0, 1 - sum * prefix)
        }
        let tiny = 1e-300
        var b = y + 1 - a, c = 1 / tiny, d = 1 / b, h = d
        for i in 1...100_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            if abs(d * c - 1) < 1e-16 { break }
        }
        return prefix * h
    }

    /// The statistic and its degrees of freedom for `counts` of `draws`
    /// against `probabilities`. Bins expecting fewer than 5 draws are pooled
    /// into one (and that into the smallest other bin if it still expects
    /// fewer than 5), where the chi-square approximation holds.
    static func statistic(counts: [Int], probabilities: [Double], draws: Int) -> (value: Double, degrees: Int) {
        var bins: [(observed: Double, expected: Double)] = []
        var pooled = (observed: 0.0, expected: 0.0)
        for (count, p) in zip(counts, probabilities) {
            let expected = p * Double(draws)
            if expected < 5 { pooled.observed += Double(count); pooled.expected += expected } else { bins.append((Double(count), expected)) }
        }
        if pooled.expected >= 5 || bins.isEmpty {
            bins.append(pooled)
        } else if pooled.expected > 0 || pooled.observed > 0 {
            let smallest = bins.indices.min { bins[$0].expected < bins[$1].expected }!
            bins[smallest].observed += pooled.observed
            bins[smallest].expected += pooled.expected
        }
        let value = bins.reduce(0) { $0 + ($1.observed - $1.expected) * ($1.observed - $1.expected) / $1.expected }
        return (value, bins.count - 1)
    }
}
