/// What `RequestParser.next()` reports. Every request gives `.head` and then `.request`.
public enum ParserEvent: Sendable, Equatable {
    /// The head is complete and the body not yet read (`body` is empty): the
    /// connection may answer "100 Continue" or refuse the request early.
    case head(HTTPRequest)
    /// The whole request, body included.
    case request(HTTPRequest)
}
