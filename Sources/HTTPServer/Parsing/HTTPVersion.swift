/// The HTTP versions a request line may carry (RFC 9112 §2.3); others are refused with 505.
public enum HTTPVersion: Sendable, Equatable {
    case http1_0, http1_1
}
