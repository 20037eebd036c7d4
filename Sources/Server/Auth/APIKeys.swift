import Foundation
import HTTPServer
import KVCache

/// The configured API keys and the tenant each one is. A request proves its
/// key with `Authorization: Bearer KEY`; keys are compared in constant time
/// (every byte of every key, whatever matches) and are never logged.
public struct APIKeys: Sendable {
    private let keys: [(key: [UInt8], tenant: Tenant)]

    /// - shareCache: whether all tenants share one prefix cache
    ///   (`share_prefix_cache: "all"`).
    public init(_ keys: [String], shareCache: Bool) {
        self.keys = keys.map { key in
            let bytes = Array(key.utf8)
            // A tenant is named by a hash of its key, so that its records
            // keep their owner when the key list is edited or reordered.
            let name = PrefixHash.extend(0x6B76_7365_7276_6531, bytes.map { Int32($0) })
            let salt = PrefixHash.extend(name, [0x7361_6C74])
            return (bytes, Tenant(id: String(name, radix: 16), cacheSalt: shareCache ? 0 : salt))
        }
    }

    public var isEmpty: Bool { keys.isEmpty }

    /// The tenant whose key the `Authorization` header carries; nil when it
    /// carries none of them. Without keys, everyone is the anonymous tenant.
    public func tenant(authorization: String?) -> Tenant? {
        guard !keys.isEmpty else { return .anonymous }
        guard let authorization, authorization.count > 7,
              authorization.prefix(7).lowercased() == "bearer " else { return nil }
        let presented = Array(authorization.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)
        var found: Tenant?
        for (key, tenant) in keys where Self.constantTimeEqual(key, presented) { found = tenant }
        return found
    }

    /// Equality whose time depends on the lengths only, never on where the
    /// bytes first differ.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }

    /// Keys from `api_keys` and from `api_keys_file` (one a line; blank
    /// lines and lines starting with '#' are skipped).
    public static func load(keys: [String], file: String?) throws -> [String] {
        guard let file, !file.isEmpty else { return keys }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw Configuration.Error(key: "api_keys_file", source: file, message: "cannot read the keys file")
        }
        let fromFile = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        return keys + fromFile
    }
}
