import Foundation
import Model

/// Responses stored by the Responses API, each a point in a conversation:
/// the exact token ids up to the end of its output (which a continuation
/// extends, finding their blocks in the prefix cache by content) and the
/// response object that `GET /v1/responses/{id}` returns. Kept per tenant;
/// at most `maxCount`, least recently used forgotten first, and none idle
/// for longer than `timeToLive` seconds.
final class StoredResponses: @unchecked Sendable {
    struct Entry {
        let tokens: [TokenID]
        let json: String
        var lastUsed: Double
    }

    private var entries: [String: Entry] = [:]
    let maxCount: Int
    let timeToLive: Double
    private let clock: () -> Double
    private let lock = NSLock()

    init(maxCount: Int, timeToLive: Double, clock: @escaping () -> Double = { Date().timeIntervalSince1970 }) {
        self.maxCount = maxCount
        self.timeToLive = timeToLive
        self.clock = clock
    }

    private func key(_ id: String, _ tenant: Tenant) -> String { tenant.sessionKey(id) }

    func store(_ id: String, tenant: Tenant, tokens: [TokenID], json: String) {
        guard maxCount > 0 else { return }
        lock.lock(); defer { lock.unlock() }
        let now = clock()
        expire(now: now)
        entries[key(id, tenant)] = Entry(tokens: tokens, json: json, lastUsed: now)
        while entries.count > maxCount {
            entries[entries.min { $0.value.lastUsed < $1.value.lastUsed }!.key] = nil
        }
    }

    /// The entry, if it exists for this tenant and has not expired; using it
    /// keeps it alive.
    func entry(_ id: String, tenant: Tenant) -> Entry? {
        lock.lock(); defer { lock.unlock() }
        let now = clock()
        expire(now: now)
        guard var entry = entries[key(id, tenant)] else { return nil }
        entry.lastUsed = now
        entries[key(id, tenant)] = entry
        return entry
    }

    func delete(_ id: String, tenant: Tenant) -> Bool {
        lock.lock(); defer { lock.unlock() }
        expire(now: clock())
        return entries.removeValue(forKey: key(id, tenant)) != nil
    }

    var count: Int {
        lock.lock(); defer { lock.unlock() }
        return entries.count
    }

    private func expire(now: Double) {
        entries = entries.filter { now - $0.value.lastUsed <= timeToLive }
    }
}
