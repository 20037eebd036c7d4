import Engine
import Foundation
import HTTPServer
import JSONTree
import KVCache
import KVDisk
import Logging
import Model
import Storage

/// What the API needs of the loaded model.
public struct ServedModel: Sendable {
    public let name: String
    public let tokenizer: Tokenizer
    /// nil: the model has none, and chat requests get a 400 saying so.
    public let chatTemplate: ChatTemplate?
    public let contextLength: Int
    /// Positions the whole KV pool holds: no request can grow past them.
    public let poolTokens: Int
    /// Longest session history (`max_session_tokens`).
    public let maxSessionTokens: Int
    /// The control token that ends a chat turn, when it is one token.
    public let endOfTurn: TokenID?
    /// Seconds since 1970 when the model was loaded (OpenAI's `created`).
    public let created: Int
    /// Token masks of the schemas requests constrain their output to.
    let schemaMasks: LazySchemaMasks
    /// The markers of the template's reasoning blocks, if it has them.
    var reasoning: ReasoningMarkers? { chatTemplate.flatMap(ReasoningMarkers.init) }
    /// `reasoning_budget`: reasoning tokens a reply may take unless it asks otherwise (nil: no limit).
    var reasoningBudget: Int? = nil

    /// Tokens a request of `inputTokens` may generate at most: up to the end
    /// of the context, the pool, and (in a session) the session's limit.
    public func room(inputTokens: Int, session: Bool) -> Int {
        min(contextLength, poolTokens, session ? maxSessionTokens : .max) - inputTokens
    }
}

/// The configured model file is not there.
public struct ModelMissing: Error, CustomStringConvertible {
    public let path: String
    public var description: String {
        "the model file '\(path)' does not exist: run scripts/fetch-model to download the default model "
            + "(SmolLM2-135M-Instruct Q4_1) into models/, or pass --model PATH"
    }
}

/// `data_dir` cannot hold the server's state.
public struct StateDirectoryUnusable: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "data_dir '\(path)': \(reason); set data_dir (KVSERVE_DATA_DIR) to a writable directory" }
}

/// Everything a route needs to serve a turn.
struct Serving: Sendable {
    let model: ServedModel
    let service: EngineService
    let metrics: ServerMetrics
    let logger: Logger
    let replies: GeneratedReplies
    let responses: StoredResponses
    let maxWaiting: Int
    let shutdown: ShutdownState
    let durability: Durability
    /// Whether a turn's conversation is prefilled as its next request will
    /// render it (off only in tests, to show what it saves).
    var prefillsFollowUps = true

    func turnContext(route: String, tenant: Tenant, sessionID: String?, stop: [String],
                     storedSession: StoredSession? = nil, stages: RequestStages, followUp: FollowUp? = nil) -> Turn.Context {
        Turn.Context(route: route, tenant: tenant, sessionID: sessionID, stop: stop, model: model, service: service,
                     metrics: metrics, logger: logger, replies: replies, shutdown: shutdown, durability: durability,
                     storedSession: storedSession, stages: stages, followUp: followUp, prefillsFollowUps: prefillsFollowUps)
    }
}

/// kvserve's HTTP API (docs/api.md) over one engine: the native
/// routes and the OpenAI ones, behind API keys when they are configured.
public final class APIServer: Sendable {
    public let http: HTTPServer
    public let service: EngineService
    public let model: ServedModel
    public let metrics = ServerMetrics()
    private let stopping = ShutdownState()
    private let durability: Durability

    /// Loads the model, sizes the KV pool from the configuration, starts the
    /// engine thread and the listener.
    public init(configuration c: Configuration, log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        let keys = APIKeys(try APIKeys.load(keys: c.apiKeys, file: c.apiKeysFile), shareCache: c.sharePrefixCache == "all")
        guard FileManager.default.fileExists(atPath: c.model) else { throw ModelMissing(path: c.model) }
        let file = try ModelFile(path: c.model, chatTemplate: try Self.chatTemplateOverride(c))
        // The kernels' threads: `threads`, or one per CPU the process may use.
        let pool = c.threads > 0 ? WorkerPool(threadCount: c.threads) : WorkerPool(threadCount: UsableCPUs.detect().count)
        log("compute threads: \(pool.threadCount)" + (c.threads > 0 ? " (threads)" : " (\(UsableCPUs.detect()))"))
        let llama = try DecoderModel(file: file, pool: pool)
        let paged = try PagedDecoderModel(model: llama, kvCacheBytes: c.kvCacheBytes, blockSize: c.blockSize,
                                        elementType: KVElementType(rawValue: c.kvCacheType)!)
        var limits = DecodeEngine.Limits()
        limits.maxBatchSequences = c.maxBatchSequences
        limits.maxPrefillTokensPerStep = c.maxPrefillTokensPerStep
        limits.maxSessions = c.maxSessions
        limits.maxSessionTokens = c.maxSessionTokens
        limits.sessionTimeToLive = Double(c.sessionTTLSeconds)
        limits.speculation = c.speculation == "ngram"
        let store = try Self.openStore(c, log: log)
        let diskLogger = Logger(label: "kvserve.kv-disk")
        let diskTier = c.kvDiskBytes > 0
            ? try DiskTier.open(path: c.kvDiskPath.isEmpty ? (c.dataDir as NSString).appendingPathComponent("kv-blocks.kvtier") : c.kvDiskPath,
                                budget: c.kvDiskBytes, modelPath: c.model, arena: paged.arena, log: log,
                                warn: { diskLogger.warning("\($0)") })
            : nil
        let engine = DecodeEngine(model: paged, endOfGeneration: file.endOfGeneration, limits: limits, diskTier: diskTier)
        let durability = Durability(store: store, logger: Logger(label: "kvserve.storage"),
                                    failures: { [metrics] in metrics.durableWriteFailures.increment(by: Int64($0)) })
        self.durability = durability
        let responses = StoredResponses(maxCount: c.maxStoredResponses, timeToLive: Double(c.responseTTLSeconds), durability: durability)
        // A shared store's sessions are read when a turn needs them: the
        // copies a replica held may be stale by the time it runs again.
        if let store, !store.isShared {
            try Self.restore(from: store, engine: engine, responses: responses, ttl: Double(c.sessionTTLSeconds), log: log)
        }
        let ttl = Double(c.sessionTTLSeconds)
        engine.sessionsExpired = { keys in
            // Another replica may have used the session since (a shared store).
            let idleSince = Date().timeIntervalSince1970 - ttl
            durability.write("forget expired sessions") { store in try keys.forEach { try store.expireSession(key: $0, lastUsedBefore: idleSince) } }
        }
        service = EngineService(engine: engine)
        model = ServedModel(name: (c.model as NSString).lastPathComponent, tokenizer: file.tokenizer,
                            chatTemplate: file.chatTemplate, contextLength: file.hyperparameters.contextLength,
                            poolTokens: paged.blockCount * c.blockSize,
                            maxSessionTokens: min(c.maxSessionTokens, file.hyperparameters.contextLength),
                            endOfTurn: file.chatTemplateEndOfTurn, created: Int(Date().timeIntervalSince1970),
                            schemaMasks: LazySchemaMasks(tokenizer: file.tokenizer, endOfGeneration: file.endOfGeneration),
                            reasoningBudget: c.reasoningBudget < 0 ? nil : c.reasoningBudget)
        if let template = file.chatTemplate { log("chat template: \(template.kindDescription)") }
        let geometry = PagedDecoderModel.geometry(file.hyperparameters, blockSize: c.blockSize, elementType: paged.arena.elementType)
        log("model \(model.name): \(paged.blockCount) KV blocks of \(c.blockSize) positions (\(paged.arena.byteCount >> 20) MiB), "
            + "kv_cache_type \(c.kvCacheType), \(geometry.bytesPerToken) bytes per token")
        if !keys.isEmpty { log("API keys required (\(c.sharePrefixCache == "all" ? "prefix cache shared by all keys" : "one prefix cache per key"))") }
        var requestLogger = Logger(label: "kvserve.requests")
        requestLogger.logLevel = Logger.Level(rawValue: c.logLevel) ?? .info
        let serving = Serving(model: model, service: service, metrics: metrics, logger: requestLogger,
                              replies: GeneratedReplies(), responses: responses,
                              maxWaiting: c.maxWaiting, shutdown: stopping, durability: durability,
                              prefillsFollowUps: c.prefillsFollowUps)
        let metrics = metrics, requestLog = Logger(label: "kvserve.http"), service = service
        // When the grace period ends, the turns still running are cancelled
        // (and rolled back) and their clients told so before connections close.
        http = HTTPServer(configuration: c.httpServer, router: Self.routes(serving, keys: keys), observer: { exchange in
            metrics.record(exchange)
            requestLog.info("request", metadata: [
                "method": "\(exchange.method)", "route": "\(exchange.route)", "status": "\(exchange.status)",
                "ms": "\(String(format: "%.1f", exchange.seconds * 1000))", "completed": "\(exchange.completed)",
            ])
        }, graceEnding: { service.cancelAll() })
        service.start()
        try http.start()
    }

    /// The `chat_template` file, read; nil when the setting is empty.
    static func chatTemplateOverride(_ c: Configuration) throws -> ModelFile.TemplateOverride? {
        guard !c.chatTemplate.isEmpty else { return nil }
        guard let data = FileManager.default.contents(atPath: c.chatTemplate) else {
            throw Configuration.Error(key: "chat_template", source: c.chatTemplate, message: "cannot read the chat template file")
        }
        return ModelFile.TemplateOverride(source: String(decoding: data, as: UTF8.self), origin: "chat_template '\(c.chatTemplate)'")
    }

    /// Begins a graceful stop (call it as the HTTP server starts draining):
    /// turns get the grace period to finish; those still running when it
    /// ends are cancelled, rolled back like any cancelled turn, and their
    /// clients told so (`shutting_down`) before connections close.
    public func beginShutdown() {
        stopping.begin()
    }

    /// Stops gracefully (`beginShutdown`, then the HTTP server's drain);
    /// `finished` runs when every connection has closed and every durable
    /// write has been made.
    public func shutdown(finished: @escaping @Sendable () -> Void = {}) {
        beginShutdown()
        http.shutdown { [durability] in
            durability.flush()
            finished()
        }
    }

    /// Waits for the durable writes queued so far (before the process exits).
    public func flushDurableWrites() { durability.flush() }

    /// The durable store the configuration names, its directory made and
    /// checked first; nil for `session_store: "memory"`.
    static func openStore(_ c: Configuration, log: (String) -> Void) throws -> DurableStore? {
        guard c.sessionStore != "memory" else { return nil }
        if c.sessionStore.hasPrefix("postgres://") || c.sessionStore.hasPrefix("postgresql://") {
            let location: PostgresLocation
            do { location = try PostgresLocation(url: c.sessionStore) } catch {
                throw Configuration.Error(key: "session_store", source: "the configuration", message: error.description)
            }
            let store = PostgresStore(location: location)
            // Serving starts without the database: session turns get 503s
            // until it answers, stateless requests are served throughout.
            do {
                _ = try store.loadSession(key: "")
                log("session store: PostgreSQL at \(location.redacted), shared with other replicas")
            } catch {
                log("session store: PostgreSQL at \(location.redacted) is not reachable yet (\(error)); session turns get 503 until it is")
            }
            return store
        }
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: c.dataDir, withIntermediateDirectories: true)
        } catch {
            throw StateDirectoryUnusable(path: c.dataDir, reason: "it cannot be created (\(error.localizedDescription))")
        }
        let probe = (c.dataDir as NSString).appendingPathComponent(".kvserve-write-test-\(getpid())")
        guard fm.createFile(atPath: probe, contents: Data("ok".utf8)) else {
            throw StateDirectoryUnusable(path: c.dataDir, reason: "it is not writable by this user")
        }
        try? fm.removeItem(atPath: probe)
        let path = c.sessionStore.isEmpty ? (c.dataDir as NSString).appendingPathComponent("kvserve.sqlite") : c.sessionStore
        let store = try SQLiteStore(path: path)
        store.warnings.forEach(log)
        log("session store: \(path)")
        return store
    }

    /// Puts back the sessions and stored responses of earlier runs; those
    /// idle past their time to live are dropped (and deleted).
    static func restore(from store: DurableStore, engine: DecodeEngine, responses: StoredResponses, ttl: Double,
                        log: (String) -> Void) throws {
        let now = Date().timeIntervalSince1970
        var restored = 0, expired = 0
        for record in try store.loadSessions().sorted(by: { $0.lastUsed > $1.lastUsed }) {
            let idle = now - record.lastUsed
            if idle > ttl || !engine.restoreSession(record.key, tokens: record.tokens, chainHashes: record.chainHashes,
                                                    turns: record.turns, idleSeconds: idle) {
                try store.deleteSession(key: record.key)
                expired += 1
            } else {
                restored += 1
            }
        }
        let kept = responses.restore(try store.loadResponses())
        log("restored \(restored) sessions and \(kept) stored responses\(expired > 0 ? " (\(expired) expired sessions dropped)" : "")")
    }

    /// A handler that knows whose request it serves.
    typealias TenantHandler = @Sendable (HTTPRequest, Responder, Tenant) -> Void

    static func routes(_ serving: Serving, keys: APIKeys) -> Router {
        var router = Router()
        let service = serving.service, metrics = serving.metrics
        /// Authenticates, then runs the handler off the I/O queue (it may
        /// wait for the engine, up to one step). `openAI`: errors in OpenAI's shape.
        func route(_ method: String, _ path: String, openAI: Bool = false, _ handler: @escaping TenantHandler) {
            router.add(method, path) { request, responder in
                guard let tenant = keys.tenant(authorization: request.headers["Authorization"]) else {
                    var headers = HTTPHeaders()
                    headers.add(name: "WWW-Authenticate", value: #"Bearer realm="kvserve""#)
                    let message = request.headers["Authorization"] == nil
                        ? "this server needs an API key: send Authorization: Bearer KEY"
                        : "the API key is not valid"
                    return responder.send(openAI
                        ? OpenAIError(status: 401, message: message, code: "invalid_api_key").response(headers: headers)
                        : .error(401, message, headers: headers))
                }
                DispatchQueue.global().async { handler(request, responder, tenant) }
            }
        }

        router.add("GET", "/health") { _, responder in responder.send(.json(["status": "ok"])) }
        route("GET", "/metrics") { _, responder, _ in
            let text = metrics.exposition(service.status())
            responder.send(.text(text, contentType: "text/plain; version=0.0.4; charset=utf-8"))
        }

        let generate = GenerateRoute(serving: serving)
        route("POST", "/v1/generate", generate.handle)
        route("GET", "/v1/sessions/{id}") { _, responder, tenant in
            let id = responder.parameters["id"]!
            let stored: StoredSession?
            do throws(StoreUnavailable) { stored = try serving.storedSession(tenant.sessionKey(id)) } catch { return responder.send(.storeUnavailable(error)) }
            guard let session = service.session(tenant.sessionKey(id), syncing: stored) else {
                return responder.send(.error(404, "no session '\(id)'"))
            }
            responder.send(.json(["session_id": JSON(id), "tokens": JSON(session.tokenCount), "turns": JSON(session.turns),
                                  "busy": JSON(session.busy)]))
        }
        route("DELETE", "/v1/sessions/{id}") { _, responder, tenant in
            let id = responder.parameters["id"]!
            let stored: StoredSession?
            do throws(StoreUnavailable) { stored = try serving.storedSession(tenant.sessionKey(id)) } catch { return responder.send(.storeUnavailable(error)) }
            switch service.deleteSession(tenant.sessionKey(id), syncing: stored) {
            case .success(true):
                serving.durability.write("delete session") { try $0.deleteSession(key: tenant.sessionKey(id)) }
                responder.send(HTTPResponse(status: 204))
            case .success(false): responder.send(.error(404, "no session '\(id)'"))
            case .failure(let refusal): responder.send(.error(409, refusal.description, type: "conflict"))
            }
        }

        let chat = ChatCompletionsRoute(serving: serving)
        route("POST", "/v1/chat/completions", openAI: true, chat.handle)
        let completions = CompletionsRoute(serving: serving)
        route("POST", "/v1/completions", openAI: true, completions.handle)
        let responses = ResponsesRoute(serving: serving)
        route("POST", "/v1/responses", openAI: true, responses.create)
        route("GET", "/v1/responses/{id}", openAI: true, responses.retrieve)
        route("DELETE", "/v1/responses/{id}", openAI: true, responses.delete)
        route("GET", "/v1/models", openAI: true) { _, responder, _ in
            let model = serving.model
            responder.send(.json(["object": "list", "data": [[
                "id": JSON(model.name), "object": "model", "created": JSON(model.created), "owned_by": "kvserve",
                "context_length": JSON(model.contextLength),
            ]]]))
        }
        return router
    }
}
