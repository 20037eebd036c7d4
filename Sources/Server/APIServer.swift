import Engine
import Foundation
import HTTPServer
import KVCache
import Logging
import Model

/// What the API needs of the loaded model.
public struct ServedModel: Sendable {
    public let name: String
    public let tokenizer: Tokenizer
    public let chatTemplate: ChatTemplate
    public let contextLength: Int
}

/// kvserve's HTTP API (../shared/DESIGN.md) over one engine.
public final class APIServer: Sendable {
    public let http: HTTPServer
    public let service: EngineService
    public let model: ServedModel
    public let metrics = ServerMetrics()

    /// Loads the model, sizes the KV pool from the configuration, starts the
    /// engine thread and the listener.
    public init(configuration c: Configuration, log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        let file = try ModelFile(path: c.model)
        if c.threads > 0 { setenv("KVSERVE_THREADS", String(c.threads), 1) }
        let llama = try LlamaModel(file: file)
        let paged = try LlamaPagedModel(model: llama, kvCacheBytes: c.kvCacheBytes, blockSize: c.blockSize,
                                        elementType: c.kvType == "f32" ? .f32 : .f16)
        var limits = DecodeEngine.Limits()
        limits.maxBatchSequences = c.maxBatchSequences
        limits.maxPrefillTokensPerStep = c.maxPrefillTokensPerStep
        limits.maxSessions = c.maxSessions
        limits.maxSessionTokens = c.maxSessionTokens
        limits.sessionTimeToLive = Double(c.sessionTTLSeconds)
        let engine = DecodeEngine(model: paged, endOfSequence: file.tokenizer.vocabulary.eos, limits: limits)
        service = EngineService(engine: engine)
        model = ServedModel(name: (c.model as NSString).lastPathComponent, tokenizer: file.tokenizer,
                            chatTemplate: file.chatTemplate, contextLength: file.hyperparameters.contextLength)
        log("model \(model.name): \(paged.blockCount) KV blocks of \(c.blockSize) positions (\(paged.arena.byteCount >> 20) MiB)")
        http = HTTPServer(configuration: c.httpServer, router: Self.routes(model: model, service: service, maxWaiting: c.maxWaiting, metrics: metrics))
        service.start()
        try http.start()
    }

    static func routes(model: ServedModel, service: EngineService, maxWaiting: Int, metrics: ServerMetrics) -> Router {
        var router = Router()
        // Routes that wait for the engine (up to one step) leave the I/O queue first.
        func offQueue(_ handler: @escaping HTTPHandler) -> HTTPHandler {
            { request, responder in DispatchQueue.global().async { handler(request, responder) } }
        }
        let generate = GenerateRoute(model: model, service: service, maxWaiting: maxWaiting, metrics: metrics,
                                     logger: Logger(label: "kvserve.requests"))
        router.add("GET", "/metrics", offQueue { _, responder in
            let text = metrics.exposition(service.perform(ServerMetrics.snapshot))
            responder.send(.text(text, contentType: "text/plain; version=0.0.4; charset=utf-8"))
        })
        router.add("POST", "/v1/generate", offQueue { request, responder in generate.handle(request, responder) })
        router.add("GET", "/health") { _, responder in responder.send(.json(Data(#"{"status":"ok"}"#.utf8))) }
        router.add("GET", "/v1/models") { _, responder in
            responder.send(.json(Data(JSONText.encode(["data": [["id": model.name, "context_length": model.contextLength]]]).utf8)))
        }
        router.add("GET", "/v1/sessions/{id}", offQueue { _, responder in
            let id = responder.parameters["id"]!
            let session = service.perform { $0.sessions[id] }
            guard let session else { return responder.send(.error(404, "no session '\(id)'")) }
            responder.send(.json(Data(JSONText.encode(["session_id": id, "tokens": session.tokens.count, "turns": session.turns,
                                                 "busy": session.busy]).utf8)))
        })
        router.add("DELETE", "/v1/sessions/{id}", offQueue { _, responder in
            let id = responder.parameters["id"]!
            let outcome = service.perform { engine -> Result<Bool, SessionStore.Refusal> in
                Result { () throws(SessionStore.Refusal) -> Bool in try engine.deleteSession(id) }
            }
            switch outcome {
            case .success(true): responder.send(HTTPResponse(status: 204))
            case .success(false): responder.send(.error(404, "no session '\(id)'"))
            case .failure(let refusal): responder.send(.error(409, refusal.description))
            }
        })
        return router
    }
}
