import Foundation
import Model
import Storage

/// Responses stored by the Responses API, each a point in a conversation:
/// the exact token ids up to the end of its output (which a continuation
/// extends, finding their blocks in the prefix cache by content) and the
/// response object that `GET /v1/responses/{id}` returns. Kept per tenant;
/// at most `maxCount`, least recently used forgotten first, and none idle
/// for longer than `timeToLive` seconds. Stored and deleted durably too
/// (`store` runs on the durability queue, before the response is sent).
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
    private let durability: Durability?
    private let lock = NSLock()

    init(maxCount: Int, timeToLive: Double, durability: Durability? = nil,
         clock: @escaping () -> Double = { Date().timeIntervalSince1970 }) {
        self.maxCount = maxCount
        self.timeToLive = timeToLive
        self.durability = durability
        self.clock = clock
    }

    /// Puts back the responses of an earlier run (those still alive, most
    /// recent first, up to `maxCount`); returns how many.
    func restore(_ records: [ResponseRecord]) -> Int {
        lock.lock(); defer { lock.unlock() }
        let now = clock()
        for record in records.sorted(by: { $0.lastUsed > $1.lastUsed }).prefix(maxCount) where now - record.lastUsed <= timeToLive {
            entries[record.key] = Entry(tokens: record.tokens, json: record.json, lastUsed: record.lastUsed)
        }
        return entries.count
    }

    private func key(_ id: String, _ tenant: Tenant) -> String { tenant.sessionKey(id) }

    func store(_ id: String, tenant: Tenant, tokens: [TokenID], json: String) {
        guard maxCount > 0 else { return }
        lock.lock(); defer { lock.unlock() }
        let now = clock()
        expire(now: now)
        entries[key(id, tenant)] = Entry(tokens: tokens, json: json, lastUsed: now)
        durability?.writeNow("save response") {
            try $0.saveResponse(ResponseRecord(key: self.key(id, tenant), tokens: tokens, json: json, lastUsed: now))
        }
        while entries.count > maxCount {
            let oldest = entries.min { $0.value.lastUsed < $1.value.lastUsed }!.key
            entries[oldest] = nil
            // Other replicas may still use a shared store's record.
            if durability?.store?.isShared != true { durability?.write("forget response") { try $0.deleteResponse(key: oldest) } }
        }
    }

    /// The entry, if it exists for this tenant and has not expired; using it
    /// keeps it alive.
    func entry(_ id: String, tenant: Tenant) -> Entry? {
        let shared = fromSharedStore(key(id, tenant))
        lock.lock(); defer { lock.unlock() }
        let now = clock()
        expire(now: now)
        if entries[key(id, tenant)] == nil, let shared, now - shared.lastUsed <= timeToLive { entries[key(id, tenant)] = shared }
        guard var entry = entries[key(id, tenant)] else { return nil }
        entry.lastUsed = now
        entries[key(id, tenant)] = entry
        return entry
    }

    /// A response another replica stored, when this one has not got it
    /// (nil without a shared store, or when it cannot be read).
    private func fromSharedStore(_ key: String) -> Entry? {
        guard let store = durability?.store, store.isShared, lock.withLock({ entries[key] == nil }),
              let record = try? store.loadResponse(key: key) else { return nil }
        return Entry(tokens: record.tokens, json: record.json, lastUsed: record.lastUsed)
    }

    func delete(_ id: String, tenant: Tenant) -> Bool {
        _ = fromSharedStore(key(id, tenant)).map { entry in lock.withLock { entries[key(id, tenant)] = entries[key(id, tenant)] ?? entry } }
        lock.lock(); defer { lock.unlock() }
        expire(now: clock())
        guard entries.removeValue(forKey: key(id, tenant)) != nil else { return false }
        durability?.write("delete response") { try $0.deleteResponse(key: self.key(id, tenant)) }
        return true
    }

    var count: Int {
        lock.lock(); defer { lock.unlock() }
        return entries.count
    }

    private func expire(now: Double) {
        entries = entries.filter { now - $0.value.lastUsed <= timeToLive }
    }
}
