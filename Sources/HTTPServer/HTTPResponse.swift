import Foundation
import JSONTree

/// A response with a fixed body (sent with Content-Length).
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON body as docs/api.md ("Errors") shapes errors: {"error":{"type":...,"message":...}}.
    public static func error(_ status: Int, _ message: String, type: String? = nil, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        .json(["error": ["message": JSON(message), "type": JSON(type ?? HTTPStatus.errorType(status))]], status: status, headers: headers)
    }

    /// A JSON body, one line of compact JSON.
    public static func json(_ value: JSON, status: Int = 200, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        var body = value.serializedBytes
        body.append(UInt8(ascii: "\n"))
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    public static func text(_ text: String, status: Int = 200, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders([(name: "Content-Type", value: contentType)]), body: Array(text.utf8))
    }
}

/// Status lines and the error types of docs/api.md ("Errors").
public enum HTTPStatus {
    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }

    public static func errorType(_ status: Int) -> String {
        switch status {
        case 401: "unauthorized"
        case 404: "not_found"
        case 413: "payload_too_large"
        case 422: "context_overflow"
        case 500: "internal"
        case 503: "overloaded"
        default: "invalid_request"
        }
    }

    /// "HTTP/1.1 200 OK\r\n", the headers, and the blank line.
    static func head(status: Int, headers: HTTPHeaders) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(reason(status))\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }
}
