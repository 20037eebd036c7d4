import Engine
import Foundation
import HTTPServer
import JSONTree
import Model
import Storage

/// An error in OpenAI's shape, `{"error":{"message","type","param","code"}}`,
/// with the same statuses as the native API: the official SDKs raise the
/// exception class of the status and expose the rest.
struct OpenAIError: Error {
    let status: Int
    let message: String
    var param: String?
    var code: String?
    var type: String

    init(status: Int, message: String, param: String? = nil, code: String? = nil, type: String? = nil) {
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type ?? Self.type(status)
    }

    /// A 400 about the request field `param`.
    static func invalid(_ message: String, param: String?, code: String? = nil) -> OpenAIError {
        OpenAIError(status: 400, message: message, param: param, code: code)
    }

    static func type(_ status: Int) -> String {
        switch status {
        case 401: "authentication_error"
        case 404: "not_found_error"
        case 409: "conflict_error"
        case 500...: "server_error"
        default: "invalid_request_error"
        }
    }

    var object: JSON {
        ["error": ["message": JSON(message), "type": JSON(type), "param": param.map { JSON($0) } ?? .null, "code": code.map { JSON($0) } ?? .null]]
    }

    func response(headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var headers = headers
        if status == 503 { headers.replaceOrAdd(name: "Retry-After", value: "1") }
        return .json(object, status: status, headers: headers)
    }

    /// The engine's refusals, with the native API's statuses.
    init(_ error: AdmissionError) {
        switch error {
        case .emptyPrompt: self.init(status: 400, message: error.description, param: "messages")
        case .constraintNeedsTokens: self.init(status: 400, message: error.description, param: "max_tokens")
        case .constraintIgnoresEnd: self.init(status: 400, message: error.description, param: "ignore_eos")
        case .beyondContext, .beyondPool, .session(.tooLong):
            self.init(status: 422, message: error.description, code: "context_length_exceeded")
        case .session(.busy), .session(.changed): self.init(status: 409, message: error.description, code: "session_busy")
        case .session(.full), .queueFull: self.init(status: 503, message: error.description, code: "overloaded")
        }
    }
}

/// An answer on the OpenAI routes, which refuse in OpenAI's shape.
protocol OpenAIOutput: TurnOutput {
    var responder: Responder { get }
    /// The event stream, once started (nil when not streaming).
    var stream: ResponseStream? { get }
}

extension OpenAIOutput {
    func refuse(_ error: AdmissionError) {
        responder.send(OpenAIError(error).response())
    }

    /// A stream gets an error event, which the SDKs raise as an APIError.
    func fail(_ failure: TurnFailure) {
        let error = OpenAIError(status: failure.status, message: failure.message, code: failure.code)
        if let stream {
            stream.write(ServerSentEvent(data: error.object.serialized))
            stream.finish()
        } else {
            responder.send(error.response())
        }
    }
}

extension Prompts {
    /// The OpenAI routes' form: a refused conversation is a 400 on `param`.
    func conversation(_ messages: [ChatMessage], tools: ToolRequest = ToolRequest(), param: String) throws(OpenAIError) -> Prompt {
        do { return try conversationPrompt(messages, tools: tools.templateTools, primer: tools.primer) } catch {
            throw .invalid(error.message, param: param)
        }
    }

    func continuation(_ messages: [ChatMessage], after lastToken: TokenID?, tools: ToolRequest = ToolRequest(),
                      param: String) throws(OpenAIError) -> Prompt {
        do { return try continuationPrompt(messages, after: lastToken, tools: tools.templateTools, primer: tools.primer) } catch {
            throw .invalid(error.message, param: param)
        }
    }
}

extension Serving {
    /// `storedSession` in the OpenAI routes' form: a 503 the SDKs retry.
    func storedSession(_ sessionID: String?, tenant: Tenant) throws(OpenAIError) -> StoredSession? {
        guard let sessionID else { return nil }
        do { return try storedSession(tenant.sessionKey(sessionID)) } catch {
            throw OpenAIError(status: 503, message: error.message, code: "store_unavailable")
        }
    }
}
