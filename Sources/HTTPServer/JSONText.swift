import Foundation

/// JSON as the server writes it: compact, keys sorted (stable for clients
/// and tests), slashes unescaped.
public enum JSONText {
    public static func encode(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
