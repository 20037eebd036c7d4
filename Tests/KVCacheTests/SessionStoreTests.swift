import Testing
@testable import KVCache

struct SessionStoreTests {
    @Test func aTurnCreatesTheSessionAndKeepsItsTokens() throws {
        var store = SessionStore(maxSessions: 4, maxTokens: 100, timeToLive: 60)
        let fresh = try store.begin("a", adding: 10, now: 0)
        #expect(fresh.tokens.isEmpty && fresh.busy)
        store.end("a", tokens: [1, 2, 3], chainHashes: [7], now: 5)
        let a = try #require(store["a"])
        #expect(a.tokens == [1, 2, 3] && a.chainHashes == [7] && a.turns == 1 && !a.busy && a.lastUsed == 5)
        #expect(try store.begin("a", adding: 10, now: 6).tokens == [1, 2, 3])
    }

    @Test func aSessionTakesOneTurnAtATime() throws {
        var store = SessionStore(maxSessions: 4, maxTokens: 100, timeToLive: 60)
        _ = try store.begin("a", adding: 1, now: 0)
        #expect(throws: SessionStore.Refusal.busy("a")) { try store.begin("a", adding: 1, now: 1) }
        #expect(throws: SessionStore.Refusal.busy("a")) { try store.delete("a") }
    }

    @Test func aCancelledTurnLeavesTheSessionAsItWas() throws {
        var store = SessionStore(maxSessions: 4, maxTokens: 100, timeToLive: 60)
        _ = try store.begin("a", adding: 5, now: 0)
        store.end("a", tokens: nil, chainHashes: [], now: 1)
        #expect(store["a"] == nil)  // its only turn was rolled back
        _ = try store.begin("b", adding: 5, now: 0)
        store.end("b", tokens: [4, 5], chainHashes: [], now: 1)
        _ = try store.begin("b", adding: 5, now: 2)
        store.end("b", tokens: nil, chainHashes: [], now: 3)
        #expect(store["b"]?.tokens == [4, 5] && store["b"]?.turns == 1)
    }

    @Test func limitsOnSessionsAndTheirLength() throws {
        var store = SessionStore(maxSessions: 2, maxTokens: 10, timeToLive: 60)
        _ = try store.begin("a", adding: 1, now: 0)
        _ = try store.begin("b", adding: 1, now: 0)
        #expect(throws: SessionStore.Refusal.full(limit: 2)) { try store.begin("c", adding: 1, now: 0) }
        store.end("b", tokens: [1, 2, 3, 4, 5, 6], chainHashes: [], now: 0)
        #expect(throws: SessionStore.Refusal.tooLong(session: "b", history: 6, adding: 5, limit: 10)) {
            try store.begin("b", adding: 5, now: 0)
        }
        #expect(try store.begin("b", adding: 4, now: 0).tokens.count == 6)
    }

    @Test func idleSessionsExpireAfterTheirTimeToLiveButBusyOnesDoNot() throws {
        var store = SessionStore(maxSessions: 4, maxTokens: 100, timeToLive: 60)
        _ = try store.begin("idle", adding: 1, now: 0)
        store.end("idle", tokens: [1], chainHashes: [], now: 10)
        _ = try store.begin("busy", adding: 1, now: 0)
        #expect(store.expire(now: 70).isEmpty)  // idle for exactly 60 s: kept
        #expect(store.expire(now: 70.5) == ["idle"])
        #expect(store.expire(now: 1000).isEmpty && store["busy"] != nil)
    }

    @Test func deleteRemovesAnIdleSession() throws {
        var store = SessionStore(maxSessions: 4, maxTokens: 100, timeToLive: 60)
        #expect(try store.delete("none") == false)
        _ = try store.begin("a", adding: 1, now: 0)
        store.end("a", tokens: [1], chainHashes: [], now: 0)
        #expect(try store.delete("a") && store.count == 0)
    }
}

/// Turns that keep only part of the history (a conversation resent and edited).
struct SessionStoreRewindTests {
    @Test func aTurnMayReplaceTheHistoryAfterWhatItKeeps() throws {
        var store = SessionStore(maxSessions: 4, maxTokens: 10, timeToLive: 60)
        _ = try store.begin("a", adding: 6, now: 0)
        store.end("a", tokens: [1, 2, 3, 4, 5, 6], chainHashes: [], now: 1)
        // Keeping 2 tokens, 8 more fit the limit of 10; keeping all 6 they would not.
        #expect(throws: SessionStore.Refusal.tooLong(session: "a", history: 6, adding: 8, limit: 10)) {
            try store.begin("a", adding: 8, now: 2)
        }
        let during = try store.begin("a", keeping: 2, adding: 8, now: 2)
        #expect(during.tokens == [1, 2, 3, 4, 5, 6] && during.busy)
        store.end("a", tokens: [1, 2, 9, 9], chainHashes: [], now: 3)
        #expect(store["a"]?.tokens == [1, 2, 9, 9] && store["a"]?.turns == 2)
    }

    @Test func aRolledBackRewindKeepsTheOldHistory() throws {
        var store = SessionStore(maxSessions: 4, maxTokens: 10, timeToLive: 60)
        _ = try store.begin("a", adding: 4, now: 0)
        store.end("a", tokens: [1, 2, 3, 4], chainHashes: [], now: 1)
        _ = try store.begin("a", keeping: 1, adding: 3, now: 2)
        store.end("a", tokens: nil, chainHashes: [], now: 3)
        #expect(store["a"]?.tokens == [1, 2, 3, 4] && store["a"]?.turns == 1)
    }
}
