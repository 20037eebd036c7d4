import Foundation
import Model
import StructuredOutput

/// The vocabulary's trie and the masks of the schemas seen so far, built on
/// the first constrained request (a trie walk of the whole vocabulary, tens
/// to hundreds of milliseconds): a server that never sees one never pays.
final class LazySchemaMasks: @unchecked Sendable {
    private let tokenizer: Tokenizer
    private let endOfGeneration: Set<TokenID>
    private let lock = NSLock()
    private var built: SchemaMaskCaches?

    init(tokenizer: Tokenizer, endOfGeneration: Set<TokenID>) {
        self.tokenizer = tokenizer
        self.endOfGeneration = endOfGeneration
    }

    var caches: SchemaMaskCaches {
        lock.withLock {
            if let built { return built }
            let caches = SchemaMaskCaches(trie: TokenTrie(tokenizer: tokenizer), endOfGeneration: endOfGeneration.sorted())
            built = caches
            return caches
        }
    }
}
