import Foundation
import Testing
@testable import HTTPServer
@testable import Server

/// API keys, tenants and the records kept per tenant, without a model.
struct TenantTests {
    @Test func aBearerKeyNamesItsTenant() {
        let keys = APIKeys(["alpha", "beta"], shareCache: false)
        let a = keys.tenant(authorization: "Bearer alpha"), b = keys.tenant(authorization: "bearer beta")
        #expect(a != nil && b != nil && a != b)
        #expect(a?.cacheSalt != 0 && a?.cacheSalt != b?.cacheSalt)
        #expect(keys.tenant(authorization: "Bearer alph") == nil)
        #expect(keys.tenant(authorization: "Bearer alphaa") == nil)
        #expect(keys.tenant(authorization: "Basic alpha") == nil)
        #expect(keys.tenant(authorization: nil) == nil)
        // The same key is the same tenant in another server (records keep their owner).
        #expect(APIKeys(["beta", "alpha"], shareCache: false).tenant(authorization: "Bearer alpha") == a)
    }

    @Test func sharingTheCacheDropsTheSaltButNotTheNamespace() {
        let keys = APIKeys(["alpha", "beta"], shareCache: true)
        let a = keys.tenant(authorization: "Bearer alpha")!, b = keys.tenant(authorization: "Bearer beta")!
        #expect(a.cacheSalt == 0 && b.cacheSalt == 0 && a.id != b.id)
        #expect(a.sessionKey("s1") != b.sessionKey("s1"))
    }

    @Test func withoutKeysEveryoneIsTheAnonymousTenant() {
        let keys = APIKeys([], shareCache: false)
        #expect(keys.tenant(authorization: nil) == .anonymous && keys.tenant(authorization: "Bearer x") == .anonymous)
        #expect(Tenant.anonymous.sessionKey("s1") == "s1")
    }

    @Test func constantTimeEqualityIsEquality() {
        let samples: [[UInt8]] = [[], [1], [1, 2], [1, 3], [2, 2], [1, 2, 0]]
        for a in samples { for b in samples { #expect(APIKeys.constantTimeEqual(a, b) == (a == b)) } }
    }

    @Test func keysFileSkipsBlanksAndComments() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-keys-\(UUID().uuidString)").path
        try "# team keys\nk1\n\n  k2  \n#k3\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try APIKeys.load(keys: ["k0"], file: path) == ["k0", "k1", "k2"])
        #expect(throws: Configuration.Error.self) { try APIKeys.load(keys: [], file: path + ".missing") }
    }

    @Test func sessionKeysAgreeOrAreRefused() throws {
        #expect(try SessionKey.resolve(header: "a", body: nil) == "a")
        #expect(try SessionKey.resolve(header: nil, body: nil, others: [("prompt_cache_key", "b")]) == "b")
        #expect(try SessionKey.resolve(header: "a", body: "a", others: [("prompt_cache_key", "a")]) == "a")
        #expect(throws: SessionKey.Invalid.self) { try SessionKey.resolve(header: "a", body: "b") }
        #expect(throws: SessionKey.Invalid.self) { try SessionKey.resolve(header: "bad id", body: nil) }
        // A prompt_cache_key of any characters names a session of its own.
        #expect(SessionKey.forCacheKey("user-1") == "user-1")
        let hashed = SessionKey.forCacheKey("user 1/conv:7")
        #expect(hashed.hasPrefix("pck-") && SessionKey.isValid(hashed) && hashed == SessionKey.forCacheKey("user 1/conv:7"))
        #expect(hashed != SessionKey.forCacheKey("user 1/conv:8"))
    }

    @Test func storedResponsesAreBoundedByCountAndIdleTime() {
        let now = Mutex(0.0)
        let store = StoredResponses(maxCount: 2, timeToLive: 10, clock: { now.withLock { $0 } })
        let a = Tenant(id: "a", cacheSalt: 1), b = Tenant(id: "b", cacheSalt: 2)
        store.store("r1", tenant: a, tokens: [1], json: "{}")
        #expect(store.entry("r1", tenant: b) == nil)  // another tenant's id does not exist for b
        now.withLock { $0 = 1 }
        store.store("r2", tenant: a, tokens: [2], json: "{}")
        now.withLock { $0 = 2 }
        _ = store.entry("r1", tenant: a)  // r1 is now the more recently used
        store.store("r3", tenant: a, tokens: [3], json: "{}")
        #expect(store.entry("r2", tenant: a) == nil && store.entry("r1", tenant: a)?.tokens == [1])
        now.withLock { $0 = 12.5 }  // r1 was last used at 2, r3 stored at 2
        #expect(store.entry("r1", tenant: a) == nil && store.count == 0)
        #expect(!store.delete("r3", tenant: a))
    }

    @Test func generatedRepliesForgetTheLeastRecentlyUsed() {
        let replies = GeneratedReplies(maxReplies: 2, maxTokens: 100)
        let t = Tenant(id: "t", cacheSalt: 0), u = Tenant(id: "u", cacheSalt: 0)
        replies.record("one", ids: [1], tenant: t)
        replies.record("two", ids: [2], tenant: t)
        #expect(replies.ids(for: "one", tenant: t) == [1])
        #expect(replies.ids(for: "one", tenant: u) == nil)
        replies.record("three", ids: [3], tenant: t)
        #expect(replies.ids(for: "two", tenant: t) == nil && replies.ids(for: "three", tenant: t) == [3])
        let small = GeneratedReplies(maxReplies: 10, maxTokens: 3)
        small.record("a", ids: [1, 1], tenant: t)
        small.record("b", ids: [2, 2], tenant: t)
        #expect(small.count == 1 && small.ids(for: "b", tenant: t) == [2, 2])
    }
}
