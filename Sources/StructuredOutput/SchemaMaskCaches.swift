import JSONTree
import Foundation
import Model

/// The mask caches of the schemas in recent use, by schema text, so that
/// requests with the same schema share one cache (each schema's trie walks
/// are paid once, not once per request). Bounded: the least recently used
/// schema is dropped first.
public final class SchemaMaskCaches: @unchecked Sendable {
    public let trie: TokenTrie
    public let endOfGeneration: [Int32]
    public let capacity: Int
    private let lock = NSLock()
    private var bySchema: [String: TokenMaskCache] = [:]
    /// Schema texts, least recently used first.
    private var recency: [String] = []
    private let anyObject: TokenMaskCache

    public init(trie: TokenTrie, endOfGeneration: some Sequence<TokenID>, capacity: Int = 64) {
        self.trie = trie
        self.endOfGeneration = Array(endOfGeneration)
        self.capacity = capacity
        anyObject = TokenMaskCache(grammar: .anyObject, trie: trie, endOfGeneration: self.endOfGeneration)
    }

    /// A fresh constraint for `{"type":"json_object"}`.
    public func anyObjectConstraint() -> OutputConstraint { OutputConstraint(anyObject) }

    /// A fresh constraint for a schema, or the reason it is refused.
    public func constraint(schema: JSON) throws(SchemaError) -> OutputConstraint {
        let key = schema.serialized
        lock.lock()
        if let masks = bySchema[key] {
            recency.removeAll { $0 == key }
            recency.append(key)
            lock.unlock()
            return OutputConstraint(masks)
        }
        lock.unlock()
        let masks = TokenMaskCache(grammar: try JSONGrammar(schema: schema), trie: trie, endOfGeneration: endOfGeneration)
        lock.lock()
        defer { lock.unlock() }
        if bySchema[key] == nil {
            if bySchema.count >= capacity, !recency.isEmpty { bySchema[recency.removeFirst()] = nil }
            bySchema[key] = masks
            recency.append(key)
        }
        return OutputConstraint(bySchema[key]!)
    }
}
