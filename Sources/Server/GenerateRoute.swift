import Engine
import Foundation
import HTTPServer
import Logging
import Model

/// `POST /v1/generate`: validates, tokenizes, submits to the engine and
/// streams its events back as server-sent events (or one JSON object).
struct GenerateRoute: Sendable {
    let model: ServedModel
    let service: EngineService
    let maxWaiting: Int
    let metrics: ServerMetrics
    let logger: Logger

    func handle(_ request: HTTPRequest, _ responder: Responder) {
        let parameters: GenerateParameters
        do { parameters = try GenerateParameters(json: request.body) } catch {
            metrics.countRequest(status: 400)
            return responder.send(.error(400, error.message))
        }
        let history = parameters.sessionID.map { id in service.perform { $0.sessions[id]?.tokens.count ?? 0 } } ?? 0
        let prompt: [TokenID]
        switch parameters.input {
        case .prompt(let text):
            prompt = model.tokenizer.encode(text, addSpecial: history == 0, parseSpecial: false)
        case .messages(let messages):
            let text = history == 0
                ? model.chatTemplate.render(messages, addGenerationPrompt: true)
                : model.chatTemplate.renderContinuation(messages, addGenerationPrompt: true)
            prompt = model.tokenizer.encode(text, addSpecial: history == 0, parseSpecial: true)
        }
        let generation = GenerationRequest(prompt: prompt, sessionID: parameters.sessionID, maxTokens: parameters.maxTokens,
                                           sampling: parameters.sampling, ignoreEOS: parameters.ignoreEOS)
        let turn = Turn(parameters: parameters, tokenizer: model.tokenizer, responder: responder, service: service,
                        metrics: metrics, logger: logger)
        switch service.submit(generation, maxWaiting: maxWaiting, sink: turn.receive) {
        case .failure(let error):
            let response = Self.response(for: error)
            metrics.countRequest(status: response.status)
            responder.send(response)
        case .success(let id):
            metrics.countRequest(status: 200)
            turn.begin(id: id)
        }
    }

    static func response(for error: AdmissionError) -> HTTPResponse {
        switch error {
        case .emptyPrompt: return .error(400, error.description)
        case .beyondContext, .beyondPool, .session(.tooLong): return .error(422, error.description)
        case .session(.busy): return .error(409, error.description, type: "invalid_request")
        case .session(.full), .queueFull:
            var headers = HTTPHeaders()
            headers.add(name: "Retry-After", value: "1")
            return .error(503, error.description, headers: headers)
        }
    }
}

/// One request's answer: turns engine events into text, watches for stop
/// strings, and writes SSE events or the final JSON. Its methods run on the
/// engine thread (events) or once on the caller's (begin).
final class Turn: @unchecked Sendable {
    let parameters: GenerateParameters
    let responder: Responder
    let service: EngineService
    let metrics: ServerMetrics
    let logger: Logger
    private var lastToken: UInt64?
    private var detokenizer: IncrementalDetokenizer
    private var filter: StopStringFilter
    private var text = ""
    private var stopped = false
    private var stream: ResponseStream?
    private let started = DispatchTime.now().uptimeNanoseconds
    private var firstToken: UInt64?
    private var id: RequestID?
    /// Events that came before `begin` (the engine can be quicker than the caller).
    private var early: [EngineEvent] = []
    private let lock = NSLock()

    init(parameters: GenerateParameters, tokenizer: Tokenizer, responder: Responder, service: EngineService,
         metrics: ServerMetrics, logger: Logger) {
        self.parameters = parameters
        self.responder = responder
        self.service = service
        self.metrics = metrics
        self.logger = logger
        detokenizer = IncrementalDetokenizer(tokenizer: tokenizer)
        filter = StopStringFilter(stops: parameters.stop)
    }

    func begin(id: RequestID) {
        lock.lock()
        self.id = id
        if parameters.stream { stream = responder.eventStream() }
        for event in early { handle(event) }
        early = []
        lock.unlock()
        responder.onClose { [service] in service.cancel(id) }
    }

    func receive(_ event: EngineEvent) {
        lock.lock(); defer { lock.unlock() }
        if id == nil { early.append(event) } else { handle(event) }
    }

    private func handle(_ event: EngineEvent) {
        switch event {
        case let .token(id, index, token):
            let now = DispatchTime.now().uptimeNanoseconds
            if firstToken == nil {
                firstToken = now
                metrics.timeToFirstToken.recordNanoseconds(Int64(now - started))
            } else if let lastToken {
                metrics.interTokenLatency.recordNanoseconds(Int64(now - lastToken))
            }
            lastToken = now
            guard !stopped else { return }
            let piece: String
            switch filter.append(detokenizer.append(token)) {
            case .text(let t): piece = t
            case .stopped(let t):
                piece = t
                stopped = true
                service.stop(id)
            }
            text += piece
            stream?.write(ServerSentEvent(event: "token", data: JSONText.encode(["index": index, "id": Int(token), "text": piece])))
        case let .finished(_, completion):
            if !stopped {
                let tail = filter.append(detokenizer.finish())
                switch tail {
                case .text(let t): text += t + filter.finish()
                case .stopped(let t): text += t; stopped = true
                }
            }
            metrics.generatedTokens.increment(by: completion.tokens.count)
            metrics.cachedTokens.increment(by: completion.cachedTokens)
            metrics.prefillTokens.increment(by: max(0, completion.historyTokens + completion.promptTokens - completion.cachedTokens))
            let timings = Timings(completion, started: started, firstToken: firstToken)
            let done = doneObject(completion, timings)
            logger.info("generate", metadata: [
                "session": "\(parameters.sessionID ?? "-")", "history_tokens": "\(completion.historyTokens)",
                "prompt_tokens": "\(completion.promptTokens)", "cached_tokens": "\(completion.cachedTokens)",
                "generated_tokens": "\(completion.tokens.count)", "finish": "\(completion.reason.rawValue)",
                "ttft_ms": "\(String(format: "%.1f", timings.ttftMilliseconds))",
                "decode_tokens_per_s": "\(String(format: "%.1f", timings.decodeTokensPerSecond))",
                "total_ms": "\(String(format: "%.1f", timings.totalMilliseconds))",
            ])
            if let stream {
                stream.write(ServerSentEvent(event: "done", data: JSONText.encode(done)))
                stream.finish()
            } else {
                responder.send(.json(Data((JSONText.encode(done) + "\n").utf8)))
            }
        }
    }

    private func doneObject(_ completion: Completion, _ timings: Timings) -> [String: Any] {
        var object: [String: Any] = [
            "finish_reason": completion.reason.rawValue,
            "text": text,
            "usage": ["prompt_tokens": completion.promptTokens, "cached_tokens": completion.cachedTokens,
                      "completion_tokens": completion.tokens.count],
            "timings": ["ttft_ms": timings.ttftMilliseconds, "prefill_tokens_per_s": timings.prefillTokensPerSecond,
                        "decode_tokens_per_s": timings.decodeTokensPerSecond],
        ]
        if let session = parameters.sessionID { object["session_id"] = session }
        return object
    }
}

/// A finished turn's timings, for its `done` event and its log line.
struct Timings {
    let ttftMilliseconds: Double
    let prefillTokensPerSecond: Double
    let decodeTokensPerSecond: Double
    let totalMilliseconds: Double

    /// `started` and `firstToken` in uptime nanoseconds; now is the end.
    init(_ completion: Completion, started: UInt64, firstToken: UInt64?) {
        let end = DispatchTime.now().uptimeNanoseconds
        ttftMilliseconds = Double((firstToken ?? end) - started) / 1e6
        let decodeSeconds = Double(end - (firstToken ?? end)) / 1e9
        prefillTokensPerSecond = ttftMilliseconds > 0 ? Double(completion.promptTokens) / (ttftMilliseconds / 1000) : 0
        decodeTokensPerSecond = decodeSeconds > 0 ? Double(max(0, completion.tokens.count - 1)) / decodeSeconds : 0
        totalMilliseconds = Double(end - started) / 1e6
    }
}
