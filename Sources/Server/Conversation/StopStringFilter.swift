/// Releases generated text as it arrives, except for a tail that might be
/// the start of a stop string (stop strings can span tokens); reports the
/// text before the first stop string once one appears.
public struct StopStringFilter: Sendable {
    public let stops: [String]
    private var held = ""

    public init(stops: [String]) { self.stops = stops }

    public enum Output: Equatable {
        /// Text safe to show now (may be empty).
        case text(String)
        /// A stop string appeared: the text before it, and generation ends.
        case stopped(String)
    }

    public mutating func append(_ piece: String) -> Output {
        held += piece
        guard !stops.isEmpty else { defer { held = "" }; return .text(held) }
        if let hit = stops.compactMap({ held.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
            let before = String(held[..<hit.lowerBound])
            held = ""
            return .stopped(before)
        }
        // Keep the longest tail that is a proper prefix of some stop string.
        var keep = 0
        for stop in stops {
            for length in stride(from: min(stop.count - 1, held.count), to: 0, by: -1)
            where held.hasSuffix(stop.prefix(length)) {
                keep = max(keep, length)
                break
            }
        }
        let released = String(held.dropLast(keep))
        held = String(held.suffix(keep))
        return .text(released)
    }

    /// The held tail, when generation ends without a stop string.
    public mutating func finish() -> String {
        defer { held = "" }
        return held
    }
}
