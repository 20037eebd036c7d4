import KVCache

/// A conversation's key, which a request may give in the `X-Session-Id`
/// header (what a load balancer routes on), as `session_id`, or on the
/// OpenAI routes as `prompt_cache_key`: one name, several spellings.
enum SessionKey {
    struct Invalid: Error {
        let message: String
        let field: String
    }

    /// The key the spellings agree on; nil when none is given.
    static func resolve(header: String?, body: String?, bodyField: String = "session_id",
                        others: [(field: String, value: String?)] = []) throws(Invalid) -> String? {
        let given = ([("X-Session-Id header", header), (bodyField, body)] + others).compactMap { field, value in
            value.map { (field, $0) }
        }
        for (field, value) in given where !isValid(value) {
            throw Invalid(message: "\(field) must be 1 to 128 characters of A-Z, a-z, 0-9, '_', '.' and '-'", field: field)
        }
        if let (field, value) = given.first, let other = given.first(where: { $0.1 != value }) {
            throw Invalid(message: "\(field) and \(other.0) name different sessions ('\(value)' and '\(other.1)')", field: other.0)
        }
        return given.first?.1
    }

    /// OpenAI's `prompt_cache_key` may be any string: one that is not a
    /// session id names the session `pck-` + a hash of it (empty or over
    /// 1024 bytes stays as it is, and is refused).
    static func forCacheKey(_ key: String) -> String {
        guard !isValid(key), (1...1024).contains(key.utf8.count) else { return key }
        return "pck-" + String(PrefixHash.extend(0x7063_6B, key.utf8.map { Int32($0) }), radix: 16)
    }

    static func isValid(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count) && id.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F || $0 == 0x2E || $0 == 0x2D
        }
    }
}
