import Foundation
import Model

/// The replies the model generated lately, text to token ids, per tenant.
/// A chat client sends a reply back as text in its next request; tokenizing
/// that text need not give back the ids the model generated (BPE has many
/// spellings of one text), and a different id there would end the cache hit
/// at the first reply. With these the resent conversation gets the exact
/// ids, so the whole history is found in the cache.
///
/// Bounded: least recently used replies are forgotten past `maxReplies` or
/// `maxTokens` in all; a forgotten reply is tokenized again, costing a
/// recompute from there, never a wrong answer.
public final class GeneratedReplies: @unchecked Sendable {
    private struct Key: Hashable {
        let tenant: String
        let text: String
    }

    private var replies: [Key: (ids: [TokenID], used: UInt64)] = [:]
    private var tokens = 0
    private var clock: UInt64 = 0
    private let maxReplies: Int
    private let maxTokens: Int
    private let lock = NSLock()

    public init(maxReplies: Int = 4096, maxTokens: Int = 1 << 20) {
        self.maxReplies = maxReplies
        self.maxTokens = maxTokens
    }

    /// Remembers that `ids` decode to `text`, for `tenant`.
    public func record(_ text: String, ids: [TokenID], tenant: Tenant) {
        guard !text.isEmpty, !ids.isEmpty, ids.count <= maxTokens else { return }
        lock.lock(); defer { lock.unlock() }
        clock += 1
        let key = Key(tenant: tenant.id, text: text)
        if let old = replies.updateValue((ids, clock), forKey: key) { tokens -= old.ids.count }
        tokens += ids.count
        while replies.count > maxReplies || tokens > maxTokens {
            let oldest = replies.min { $0.value.used < $1.value.used }!
            tokens -= oldest.value.ids.count
            replies[oldest.key] = nil
        }
    }

    /// The ids generated for `text`, if it is a reply remembered for `tenant`.
    public func ids(for text: String, tenant: Tenant) -> [TokenID]? {
        lock.lock(); defer { lock.unlock() }
        let key = Key(tenant: tenant.id, text: text)
        guard let entry = replies[key] else { return nil }
        clock += 1
        replies[key] = (entry.ids, clock)
        return entry.ids
    }

    public var count: Int {
        lock.lock(); defer { lock.unlock() }
        return replies.count
    }
}
