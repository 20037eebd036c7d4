import Foundation
import KVCache
import KVDisk
import Model
import StructuredOutput

/// The shared decoder: every request's sequence, the K/V pool they live in,
/// the sessions, and the step that advances all of them with one batched
/// forward pass. Not thread-safe: one thread owns it and calls `submit`,
/// `cancel` and `step` in turn (docs/architecture.md, "The engine").
///
/// A step schedules, oldest admitted first, one position for every decoding
/// sequence and up to `maxPrefillTokensPerStep` positions of prefill, then
/// admits waiting requests while the batch, the prefill budget and the free
/// or evictable blocks allow. A running sequence short of blocks preempts
/// the newest ones, which go back to the head of the queue and later
/// recompute what they lost: preemption and eviction cost time, never output.
public final class DecodeEngine {
    public struct Limits: Sendable {
        public var maxBatchSequences = 16
        public var maxPrefillTokensPerStep = 256
        public var maxSessions = 1024
        public var maxSessionTokens = Int.max
        public var sessionTimeToLive: Double = 3600
        /// Sequences draft their continuation from their own tokens
        /// and check the draft in one pass (`PromptLookup`).
        public var speculation = false
        public init() {}
    }

    /// A request between admission and its end.
    private struct Sequence {
        let id: RequestID
        let request: GenerationRequest
        /// The session's tokens this turn continues.
        let history: [TokenID]
        /// The chain hashes of `tokens`' whole blocks, computed once (and
        /// extended when a preempted sequence waits again with more tokens).
        var blockHashes: [UInt64]
        /// What the turn adds after them.
        let prompt: [TokenID]
        var sampler: Sampler
        /// Where the reply is in the request's grammar, if it has one.
        var constraint: OutputConstraint?
        /// Where the reply is in its reasoning budget, if it has one.
        var reasoning: ReasoningBudget?
        /// Tokens drafted for this step, in the cache table after the last
        /// sampled token and checked by the step's logits.
        var draft: [TokenID] = []
        /// The lookup's guess at the token sampled this step, made while
        /// not drafting: checking it costs nothing and tells the gate when
        /// drafting would pay again.
        var prediction: TokenID?
        var speculation = SpeculationGate()
        var generated: [TokenID] = []
        var cachedTokens: Int?
        /// Of those, the tokens read back from the disk tier.
        var diskCachedTokens = 0
        /// On the engine's clock: when it was submitted, and when its first
        /// step began (its wait in the queue is the difference).
        let submittedAt: Double
        var admittedAt: Double?
        var tokens: [TokenID] { history + prompt + generated }
        var prefix: DiskPrefetch.Prefix {
            DiskPrefetch.Prefix(id: id, parts: (history, prompt, generated), hashes: blockHashes, salt: request.cacheSalt)
        }
    }

    public let model: any PagedModel
    public let limits: Limits
    /// Tokens that end a reply (unless the request ignores them).
    private let endOfGeneration: Set<TokenID>
    private let contextLength: Int
    private let clock: () -> Double
    public private(set) var cache: PagedCache
    public private(set) var sessions: SessionStore
    private var waiting: [Sequence] = []
    /// In admission order, oldest first (the cache preempts newest first).
    private var running: [Sequence] = []
    private var nextID: RequestID = 0
    /// Prefills without a reply, run only while no request waits or runs.
    private var idle = IdlePrefills()
    private var lastExpiry: Double = -.infinity
    /// Where evicted blocks go and prefixes come back from (nil: RAM only).
    public let diskTier: DiskTier?
    /// Reads of waiting requests' prefixes from `diskTier`.
    private var prefetch: DiskPrefetch?
    /// Told of the sessions that expired (on the engine thread; must be quick).
    public var sessionsExpired: ([String]) -> Void = { _ in }

    public init(model: any PagedModel, endOfGeneration: Set<TokenID>, limits: Limits = Limits(), diskTier: DiskTier? = nil,
                clock: @escaping () -> Double = EngineClock.seconds) {
        precondition(diskTier == nil || diskTier!.memory === model.blockMemory, "the disk tier must move this model's blocks")
        self.model = model
        self.diskTier = diskTier
        prefetch = diskTier.map(DiskPrefetch.init)
        self.limits = limits
        self.endOfGeneration = endOfGeneration
        self.contextLength = model.contextLength
        self.clock = clock
        cache = PagedCache(blockCount: model.blockCount, blockSize: model.blockSize, rootTag: model.kvElementType.chainTag)
        sessions = SessionStore(maxSessions: limits.maxSessions,
                                maxTokens: min(limits.maxSessionTokens, contextLength),
                                timeToLive: limits.sessionTimeToLive)
        cache.listsEvictions = diskTier != nil
    }

    public var waitingCount: Int { waiting.count }
    public var runningCount: Int { running.count }
    public var hasWork: Bool { !waiting.isEmpty || !running.isEmpty || idle.hasWork }

    /// Whether the only work is waiting for a read from disk: nothing runs,
    /// the head of the queue waits for its read (or for blocks that reads in
    /// flight hold), so a step now would do nothing until a read is drained.
    public var isStalledOnDisk: Bool {
        prefetch?.isStalled(head: waiting.first?.id, anyRunning: !running.isEmpty) ?? false
    }

    /// Queues a request, or refuses it if it can never run. A session's turn
    /// holds the session until it ends.
    public func submit(_ request: GenerationRequest) throws(AdmissionError) -> RequestID {
        guard !request.prompt.isEmpty else { throw .emptyPrompt }
        precondition(request.maxTokens >= 1)
        if let constraint = request.constraint {
            guard !request.ignoreEOS else { throw .constraintIgnoresEnd }
            guard constraint.minimumTokens <= request.maxTokens else {
                throw .constraintNeedsTokens(needed: constraint.minimumTokens, maxTokens: request.maxTokens)
            }
        }
        var history: [TokenID] = [], hashes: [UInt64] = [], prompt = request.prompt
        if let session = request.sessionID.flatMap({ sessions[$0] }) {
            history = session.tokens
            hashes = session.chainHashes
        }
        switch request.history {
        case .append(let expected):
            if let expected, expected != history.count, let sessionID = request.sessionID {
                throw .session(.changed(sessionID))
            }
        case .reconcile:
            // Keep the common prefix, but never all of the prompt: its last
            // token's logits are needed (the cache still holds its keys).
            let kept = min(zip(history, prompt).prefix { $0 == $1 }.count, prompt.count - 1)
            history.removeSubrange(kept...)
            hashes = Array(hashes.prefix(kept / cache.blockSize))
            prompt.removeSubrange(..<kept)
        }
        let total = history.count + prompt.count + request.maxTokens
        guard total <= contextLength else { throw .beyondContext(tokens: total, context: contextLength) }
        guard cache.canEverFit(positions: total) else {
            throw .beyondPool(tokens: total, poolTokens: cache.pool.blockCount * cache.blockSize)
        }
        if let sessionID = request.sessionID {
            do {
                _ = try sessions.begin(sessionID, keeping: history.count, adding: prompt.count + request.maxTokens, now: clock())
            } catch { throw .session(error) }
        }
        let id = nextID
        nextID += 1
        waiting.append(Sequence(id: id, request: request, history: history,
                                blockHashes: cache.chainHashes(of: history + prompt, known: hashes, salt: request.cacheSalt), prompt: prompt,
                                sampler: Sampler(request.sampling), constraint: request.constraint,
                                reasoning: request.constraint == nil ? request.reasoningBudget : nil, submittedAt: clock()))
        return id
    }

    /// Ends a request at once: its blocks are released (the full ones stay
    /// cached) and its session is left as it was before the turn.
    public func cancel(_ id: RequestID) -> EngineEvent? { endEarly(id, .cancelled) }

    /// Cancels every request, waiting and running.
    public func cancelAll() -> [EngineEvent] {
        (waiting.map(\.id) + running.map(\.id)).compactMap(cancel)
    }

    /// Ends a running or waiting request as finished (`stop`): the caller
    /// found a stop string. Unlike `cancel`, the turn is kept in its session,
    /// with every token generated so far.
    /// `keeping`: the generated tokens the reply keeps (a stop string was
    /// found in the first `keeping`; steps run since are dropped, so the
    /// session holds exactly what the client was sent).
    public func stop(_ id: RequestID, keeping: Int? = nil) -> EngineEvent? { endEarly(id, .stop, keeping: keeping) }

    /// Ends a request wherever it is; nil if it already ended.
    private func endEarly(_ id: RequestID, _ reason: FinishReason, keeping: Int? = nil) -> EngineEvent? {
        if let i = waiting.firstIndex(where: { $0.id == id }) {
            return end(waiting.remove(at: i), reason, table: nil)
        }
        if let i = running.firstIndex(where: { $0.id == id }) {
            let table = cache.finish(id)
            var sequence = running.remove(at: i)
            if let keeping, sequence.generated.count > keeping { sequence.generated.removeLast(sequence.generated.count - keeping) }
            return end(sequence, reason, table: table)
        }
        return nil
    }

    /// Cuts a session's last turn to `tokens` tokens: its reply's stop
    /// string was found after the turn had already ended (at its token
    /// limit or end of generation). Returns the session as it now is; nil
    /// (and nothing changed) when the session has moved on since.
    public func cutSession(_ id: String, to tokens: Int, expecting current: Int) -> SessionStore.Session? {
        guard let session = sessions[id], !session.busy, session.tokens.count == current, tokens <= current else { return nil }
        sessions.cut(id, to: tokens, chainHashes: Array(session.chainHashes.prefix(tokens / cache.blockSize)))
        return sessions[id]
    }

    /// Makes `tokens` resident without a reply: a conversation as its next
    /// request will render it, where that differs from what was computed
    /// (a reasoning model's template drops earlier replies' reasoning). It
    /// runs at idle priority: only while no request waits or runs, handing
    /// its blocks back (computed ones stay cached) as soon as one does, so
    /// a request's first token waits at most the step under way. What it
    /// computes is cached and evictable like any block.
    public func prefillWhenIdle(_ tokens: [TokenID], salt: UInt64) {
        guard tokens.count > 1, tokens.count <= contextLength, cache.canEverFit(positions: tokens.count) else { return }
        idle.enqueue(IdlePrefills.Prefill(id: nextID, tokens: tokens, salt: salt))
        nextID += 1
    }

    /// Replaces idle session `id`'s history with `tokens` (the same
    /// conversation as its next request renders it) and prefills them when
    /// idle (unless not to `prefill`). The chain hashes of the blocks both share are kept. Returns
    /// the session as it now is; nil (nothing changed) when it has moved on
    /// since (it no longer holds `current` tokens) or cannot hold them.
    public func rewriteSession(_ id: String, to tokens: [TokenID], expecting current: Int, salt: UInt64,
                               prefill: Bool = true) -> SessionStore.Session? {
        guard let session = sessions[id], !session.busy, session.tokens.count == current else { return nil }
        let shared = zip(session.tokens, tokens).prefix { $0 == $1 }.count
        let hashes = cache.chainHashes(of: tokens, known: Array(session.chainHashes.prefix(shared / cache.blockSize)), salt: salt)
        guard sessions.rewrite(id, tokens: tokens, chainHashes: hashes) else { return nil }
        if prefill, shared < tokens.count { prefillWhenIdle(tokens, salt: salt) }
        return sessions[id]
    }

    /// Puts back a session of an earlier run; false when it cannot be held
    /// (full, or too long).
    /// `idleSeconds`: how long ago it was last used (its time to live counts from then).
    public func restoreSession(_ id: String, tokens: [TokenID], chainHashes: [UInt64], turns: Int, idleSeconds: Double = 0) -> Bool {
        sessions.restore(id, tokens: tokens, chainHashes: chainHashes, turns: turns, lastUsed: clock() - idleSeconds)
    }

    /// Forgets an idle session. Its blocks stay cached like any others until
    /// evicted; without the session's tokens they are just a shared prefix.
    public func deleteSession(_ id: String) throws(SessionStore.Refusal) -> Bool {
        try sessions.delete(id)
    }

    /// Advances every running sequence by one forward pass; returns what
    /// happened, in order.
    public func step() -> [EngineEvent] {
        expireSessions()
        if isStalledOnDisk { diskTier!.waitForRead() }
        prefetch?.drain(&cache)
        guard !waiting.isEmpty || !running.isEmpty else { stepIdle(); return [] }
        yieldIdle()
        var scheduled: [(index: Int, count: Int)] = []
        var prefillBudget = limits.maxPrefillTokensPerStep

        // A drafted position costs more the more sequences share the step.
        let draftCost = limits.speculation
            ? SpeculationGate.cost(decoding: running.count { cache.table($0.id)!.pending == 1 }) : 0
        // Running sequences, oldest first.
        var i = 0, headStarved = false
        while i < running.count {
            let pending = cache.table(running[i].id)!.pending
            // Decoding, or the last part of a prefill: its last token's
            // logits are the step's, and a draft can follow it.
            let completes = pending == 1 || (pending > 0 && pending <= prefillBudget)
            let count = completes ? pending + draft(i, cost: draftCost) : min(pending, prefillBudget)
            guard count > 0 else { i += 1; continue }
            // Only sequences newer than this one can be preempted, so the
            // ones already scheduled keep their blocks and their indices.
            let preempted = cache.reserveOrPreempt(running[i].id, positions: count)
            if !preempted.isEmpty { headStarved = true }
            requeue(preempted)
            if i >= running.count { break }  // it was the newest, and preempted itself
            if pending > 1 { prefillBudget -= count }
            scheduled.append((i, count))
            i += 1
        }
        // Prefixes on disk start coming back for those next in line.
        if prefetch != nil {
            for sequence in waiting.prefix(max(0, limits.maxBatchSequences - running.count)) {
                prefetch!.start(sequence.prefix, &cache, othersFreeBlocks: !running.isEmpty)
            }
        }
        // Waiting requests, first come first served, while everything allows.
        admission: while let next = waiting.first, running.count < limits.maxBatchSequences, prefillBudget > 0 {
            switch prefetch?.readiness(of: next.prefix, &cache, othersFreeBlocks: !running.isEmpty) ?? .ready {
            case .ready: break
            case .loading: break admission
            case .blocked: headStarved = true; break admission
            }
            guard let cached = cache.admit(next.id, tokens: next.tokens, chainHashes: next.blockHashes,
                                           salt: next.request.cacheSalt, maxPositions: prefillBudget) else { headStarved = true; break }
            let count = min(cache.table(next.id)!.pending, prefillBudget)
            var sequence = waiting.removeFirst()
            if sequence.admittedAt == nil { sequence.admittedAt = clock() }
            let loaded = prefetch?.admitted(next.id, &cache) ?? []
            if sequence.cachedTokens == nil {
                sequence.cachedTokens = cached
                if !loaded.isEmpty {
                    let adopted = cache.table(next.id)!.blocks.prefix(cached / cache.blockSize)
                    sequence.diskCachedTokens = adopted.filter(loaded.contains).count * cache.blockSize
                    diskTier?.countHits(tokens: sequence.diskCachedTokens)
                }
            }
            running.append(sequence)
            prefillBudget -= count
            let completes = count == cache.table(next.id)!.pending
            scheduled.append((running.count - 1, completes ? count + draft(running.count - 1, cost: draftCost, reserve: true) : count))
        }
        prefetch?.release(waiting: waiting.map(\.id), keepingAll: !headStarved, &cache)
        diskTier?.storeEvicted(from: &cache)
        guard !scheduled.isEmpty else { return [] }

        let batch = scheduled.map { item -> ForwardSequence in
            let table = cache.table(running[item.index].id)!
            return ForwardSequence(tokens: Array(table.tokens[table.computed ..< table.computed + item.count]),
                                   startPosition: table.computed, blockTable: table.blocks,
                                   wantsLogits: table.computed + item.count == table.tokens.count,
                                   logitRows: 1 + running[item.index].draft.count)
        }
        let logits = model.forward(batch)

        var events: [EngineEvent] = [], finished: [Int] = []
        for (k, item) in scheduled.enumerated() {
            guard let rows = logits[k] else {
                // The middle of a prefill: nothing to sample yet.
                let id = running[item.index].id, indexed = cache.table(id)!.indexed
                cache.commit(id, computed: batch[k].startPosition + item.count)
                saveFull(id, from: indexed)
                continue
            }
            let (more, ended) = conclude(item.index, rows: rows)
            events += more
            if ended { finished.append(item.index) }
        }
        for index in finished.sorted(by: >) { running.remove(at: index) }
        return events
    }

    /// Adds `token` to running sequence `i`'s reply (its cache table has
    /// it already): the reply's end at its end of generation, else its
    /// token event and, at its token limit, the end; and whether it ended.
    private func give(_ token: TokenID, logprobs: TokenLogprobs?, to i: Int) -> (events: [EngineEvent], ended: Bool) {
        running[i].generated.append(token)
        let sequence = running[i]
        if endOfGeneration.contains(token) && !sequence.request.ignoreEOS {
            return ([end(sequence, .stop, table: cache.finish(sequence.id))], true)
        }
        let event = EngineEvent.token(sequence.id, index: sequence.generated.count - 1, token, logprobs: logprobs)
        guard sequence.generated.count == sequence.request.maxTokens else { return ([event], false) }
        return ([event, end(sequence, .length, table: cache.finish(sequence.id))], true)
    }

    // MARK: speculation

    private static let lookup = PromptLookup()

    /// Drafts running sequence `i`'s next tokens when it may (room left in
    /// its reply and the context): as many as its gate finds worth `cost`
    /// each (none: the lookup's next token is kept as a prediction
    /// instead), and no further than its constraint allows. Returns how
    /// many; with `reserve`, the draft's blocks are taken here (none when
    /// too few are free).
    /// Drafting wherever a step computes the logits of the last token,
    /// after a prefill too, keeps a seed's stream the same when the
    /// sequence is preempted and computes its tokens again.
    private func draft(_ i: Int, cost: Double, reserve: Bool = false) -> Int {
        guard limits.speculation else { return 0 }
        let request = running[i].request
        guard let table = cache.table(running[i].id) else { return 0 }
        let room = min(request.maxTokens - running[i].generated.count - 1, contextLength - table.tokens.count)
        guard room > 0 else { return 0 }
        // A sampled draft's length decides which random numbers its rows
        // draw: priced as if alone, so a seed's stream is the same in any batch.
        let length = running[i].speculation.length(cost: request.sampling.isGreedy ? cost : SpeculationGate.cost(decoding: 1))
        guard length > 0 else {
            running[i].prediction = Self.lookup.draft(table.tokens, length: 1).first
            return 0
        }
        var draft = Self.lookup.draft(table.tokens, length: min(length, room))
        if var constraint = running[i].constraint, let refused = draft.firstIndex(where: { !constraint.accept($0) }) {
            draft.removeSubrange(refused...)
        }
        guard !draft.isEmpty else { return 0 }
        cache.append(running[i].id, draft)
        if reserve && !cache.reserve(running[i].id, positions: table.pending + draft.count) {
            cache.dropUncommitted(running[i].id, keeping: table.tokens.count)
            return 0
        }
        running[i].draft = draft
        return draft.count
    }

    /// Running sequence `i`'s tokens from the step's logit rows, one row
    /// for its last token and one per drafted token after it. Each row's
    /// token is the one the sequence would have chosen alone: masked by its
    /// constraint, sampled (by speculative sampling's rule where a token was
    /// drafted: greedy takes the most likely, sampling the drafted token
    /// with its probability), replaced by a spent reasoning budget's closing
    /// token. Rows are taken while their token is the drafted one; the first
    /// that is not (or the row after the whole draft) is the step's own
    /// token, and the rest of the draft is dropped from the cache
    /// uncommitted. Returns the events, and whether the reply ended.
    private func conclude(_ i: Int, rows: [Float]) -> (events: [EngineEvent], ended: Bool) {
        let id = running[i].id, draft = running[i].draft, request = running[i].request
        let vocabulary = rows.count / (draft.count + 1)
        let table = cache.table(id)!
        // The position of the last token before the draft: its row is the first.
        let start = table.tokens.count - draft.count - 1
        var taken: [(token: TokenID, logprobs: TokenLogprobs?)] = [], refused = false
        for r in 0...draft.count {
            let row = Array(rows[(r * vocabulary)..<((r + 1) * vocabulary)])
            var sampled = row
            if let constraint = running[i].constraint {
                // Masked before sampling: the sequence's own state and budget
                // decide, whatever else is in the batch.
                constraint.mask(remainingTokens: request.maxTokens - running[i].generated.count - r).apply(to: &sampled)
            }
            // The history the penalties see is the tokens through this row's position.
            let history = Array(table.tokens[..<(start + 1 + r)].suffix(Self.penaltyWindow))
            var token = r < draft.count ? running[i].sampler.sample(sampled, history: history, draft: draft[r])
                                        : running[i].sampler.sample(sampled, history: history)
            // A spent reasoning budget writes the block's end instead (the sampler still drew, so its stream is the same).
            if let forced = running[i].reasoning?.forcedToken() { token = forced }
            running[i].reasoning?.observe(token)
            if running[i].constraint != nil && !running[i].constraint!.accept(token) {
                // No allowed token (a grammar bug): end the reply rather than emit what it refuses.
                refused = true
                break
            }
            // Log-probabilities are the model's, before the mask.
            taken.append((token, request.topLogprobs.map { TokenLogprobs(logits: row, token: token, count: $0) }))
            guard r < draft.count, token == draft[r], !endOfGeneration.contains(token) || request.ignoreEOS else { break }
        }
        // The drafted tokens taken: all of `taken` after a refusal, else all but the step's own last one.
        let acceptedDrafts = refused ? taken.count : taken.count - 1
        if !draft.isEmpty {
            running[i].speculation.record(drafted: draft.count, accepted: acceptedDrafts)
        } else if let predicted = running[i].prediction, let token = taken.first?.token {
            running[i].speculation.observe(held: predicted == token)
        }
        running[i].draft = []
        running[i].prediction = nil
        // Positions through start + acceptedDrafts hold valid keys and values.
        let valid = start + 1 + acceptedDrafts
        cache.dropUncommitted(id, keeping: valid)
        cache.commit(id, computed: valid)
        saveFull(id, from: table.indexed)
        if !refused { cache.append(id, [taken.last!.token]) }
        var events: [EngineEvent] = []
        for (token, logprobs) in taken {
            let (given, ended) = give(token, logprobs: logprobs, to: i)
            events += given
            if ended { return (events, true) }
        }
        guard refused else { return (events, false) }
        events.append(end(running[i], .stop, table: cache.finish(id)))
        return (events, true)
    }

    // MARK: idle prefills

    /// One step of the idle prefill under way (admitting the next if none is).
    private func stepIdle() {
        if idle.current == nil, let next = idle.next() {
            cache.start(next.id, tokens: next.tokens, salt: next.salt)
            idle.current = next
        }
        guard let prefill = idle.current, let table = cache.table(prefill.id) else { return }
        let count = min(table.pending, limits.maxPrefillTokensPerStep)
        if count > 0, cache.reserve(prefill.id, positions: count) {
            _ = model.forward([ForwardSequence(tokens: Array(table.tokens[table.computed ..< table.computed + count]),
                                               startPosition: table.computed, blockTable: cache.table(prefill.id)!.blocks,
                                               wantsLogits: false)])
            cache.commit(prefill.id, computed: table.computed + count)
            saveFull(prefill.id, from: table.indexed)
            if cache.table(prefill.id)!.pending > 0 { return }
        }
        // Done, or short of blocks: what it computed stays cached.
        cache.finish(prefill.id)
        idle.current = nil
    }

    /// Hands the idle prefill's blocks back before a request's step; it
    /// resumes later from what stayed cached.
    private func yieldIdle() {
        guard let prefill = idle.current else { return }
        cache.finish(prefill.id)
        idle.current = nil
        idle.resume(prefill)
    }

    // MARK: the disk tier

    /// Writes blocks of `id` that became full (indexed) past its first
    /// `from`, so a crash or restart finds them on disk (write-through).
    private func saveFull(_ id: RequestID, from: Int) {
        guard let diskTier, let table = cache.table(id), table.indexed > from else { return }
        for block in table.blocks[from..<table.indexed] {
            if let contents = cache.pool.contents(of: block), !contents.isPartial { diskTier.store(contents, from: block) }
        }
    }

    /// nil when the disk prefetch's invariants hold, else what is wrong (tests).
    func checkDiskPrefetch() -> String? { prefetch?.checkInvariants(cache) }

    /// Tokens the repetition penalty looks back over (llama.cpp's default).
    public static let penaltyWindow = 64

    /// Preempted sequences wait again, ahead of new requests, oldest first;
    /// they keep what they generated and recompute their keys and values.
    private func requeue(_ ids: [RequestID]) {
        var moved = running.filter { ids.contains($0.id) }
        for i in moved.indices {
            moved[i].draft = []  // the cache table, and the draft in it, is gone
            moved[i].prediction = nil
            prefetch?.forget(moved[i].id)
            moved[i].blockHashes = cache.chainHashes(of: moved[i].tokens, known: moved[i].blockHashes, salt: moved[i].request.cacheSalt)
        }
        running.removeAll { ids.contains($0.id) }
        waiting.insert(contentsOf: moved, at: 0)
    }

    private func end(_ sequence: Sequence, _ reason: FinishReason, table: BlockTable?) -> EngineEvent {
        var session: SessionStore.Session?
        if let sessionID = sequence.request.sessionID {
            let keep = reason != .cancelled
            // Chain hashes of full blocks of the kept tokens only (a stop may have dropped some).
            let hashes = (table?.chainHashes ?? []).prefix(sequence.tokens.count / cache.blockSize)
            sessions.end(sessionID, tokens: keep ? sequence.tokens : nil, chainHashes: keep ? Array(hashes) : [], now: clock())
            if keep { session = sessions[sessionID] }
        }
        var generated = sequence.generated, stopToken: TokenID?
        if reason == .stop, let last = generated.last, endOfGeneration.contains(last) { stopToken = generated.removeLast() }
        var completion = Completion(reason: reason, tokens: generated, stopToken: stopToken, historyTokens: sequence.history.count,
                                    promptTokens: sequence.prompt.count, cachedTokens: sequence.cachedTokens ?? 0,
                                    diskCachedTokens: sequence.diskCachedTokens, session: session,
                                    queueSeconds: (sequence.admittedAt ?? clock()) - sequence.submittedAt)
        completion.draftedTokens = sequence.speculation.drafted
        completion.acceptedTokens = sequence.speculation.accepted
        return .finished(sequence.id, completion)
    }

    /// Drops sessions idle past their time to live, at most once a second.
    private func expireSessions() {
        let now = clock()
        guard now - lastExpiry >= 1 else { return }
        lastExpiry = now
        let expired = sessions.expire(now: now)
        if !expired.isEmpty { sessionsExpired(expired) }
    }
}
