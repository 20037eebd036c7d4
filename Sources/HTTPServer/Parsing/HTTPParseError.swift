/// Why a request was refused: the status to answer with and a short message for
/// the error body. After one, the connection answers and closes.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One of 400, 413, 414, 417, 431, 501, 505.
    public let status: Int
    public let message: String

    public init(status: Int, message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status) \(reasonPhrase): \(message)" }

    /// The reason phrase RFC 9110 §15 gives the status.
    public var reasonPhrase: String {
        switch status {
        case 400: "Bad Request"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 417: "Expectation Failed"
        case 431: "Request Header Fields Too Large"
        case 501: "Not Implemented"
        case 505: "HTTP Version Not Supported"
        default: "Error"
        }
    }

    static func badRequest(_ message: String) -> HTTPParseError {
        HTTPParseError(status: 400, message: message)
    }
}
