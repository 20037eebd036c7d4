import Foundation
import Testing

/// The committed request fixtures (Tests/HTTPServerTests/Fixtures), one case a line.
enum Fixtures {
    struct Case: CustomTestStringConvertible, Sendable {
        var line: Int
        /// The first word for hostile cases ("400", "incomplete"); nil for valid ones.
        var expected: String?
        var escaped: String
        var bytes: [UInt8]

        var testDescription: String { "line \(line): \(escaped.prefix(80))" }
    }

    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    static let validRequests = load("valid-requests.txt", expectation: false)
    static let hostileRequests = load("hostile-requests.txt", expectation: true)

    /// Cases of a file: lines not blank and not starting with "#"; with
    /// `expectation`, each starts with its expected outcome and a space.
    private static func load(_ name: String, expectation: Bool) -> [Case] {
        let url = directory.appendingPathComponent(name)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { fatalError("cannot read \(url.path)") }
        return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, line in
            guard !line.isEmpty, !line.hasPrefix("#") else { return nil }
            var expected: String?
            var escaped = String(line)
            if expectation {
                guard let space = line.firstIndex(of: " ") else { fatalError("\(name):\(index + 1): no expected outcome") }
                expected = String(line[..<space])
                escaped = String(line[line.index(after: space)...])
            }
            do {
                return Case(line: index + 1, expected: expected, escaped: escaped, bytes: try EscapedBytes.decode(escaped))
            } catch {
                fatalError("\(name):\(index + 1): \(error)")
            }
        }
    }
}
