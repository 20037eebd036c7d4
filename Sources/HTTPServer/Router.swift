import Foundation

/// Answers a request through its responder, on any thread; it must not
/// block the server's I/O queue, on which it is called.
public typealias HTTPHandler = @Sendable (HTTPRequest, Responder) -> Void

/// Method and path to handler. Patterns are literal segments and `{name}`
/// segments, which match one non-empty segment and are passed to the handler
/// as `responder.parameters[name]`. A path that matches no pattern is 404; one
/// that matches with another method is 405 with Allow; HEAD is served by the
/// GET handler without the body.
public struct Router: Sendable {
    private struct Route: Sendable {
        let method: String
        let pattern: String
        let segments: [Substring]
        let handler: HTTPHandler
    }

    private var routes: [Route] = []

    public init() {}

    public mutating func add(_ method: String, _ pattern: String, _ handler: @escaping HTTPHandler) {
        precondition(pattern.hasPrefix("/"), "a route pattern starts with /")
        routes.append(Route(method: method, pattern: pattern, segments: Self.segments(pattern), handler: handler))
    }

    public enum Match {
        /// `pattern` names the route (for metrics and logs), never the path's values.
        case handler(HTTPHandler, parameters: [String: String], pattern: String)
        case notFound
        case methodNotAllowed(allow: [String])
    }

    public func match(method: String, path: String) -> Match {
        let segments = Self.segments(path)
        var allowed: [String] = []
        for route in routes {
            guard let parameters = Self.bind(route.segments, to: segments) else { continue }
            if route.method == method || (method == "HEAD" && route.method == "GET") {
                return .handler(route.handler, parameters: parameters, pattern: route.pattern)
            }
            allowed.append(route.method)
            if route.method == "GET" { allowed.append("HEAD") }
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allow: Array(Set(allowed)).sorted())
    }

    private static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { $0 }
    }

    private static func bind(_ pattern: [Substring], to path: [Substring]) -> [String: String]? {
        guard pattern.count == path.count else { return nil }
        var parameters: [String: String] = [:]
        for (p, s) in zip(pattern, path) {
            if p.hasPrefix("{") && p.hasSuffix("}") {
                guard !s.isEmpty else { return nil }
                parameters[String(p.dropFirst().dropLast())] = String(s).removingPercentEncoding ?? String(s)
            } else if p != s {
                return nil
            }
        }
        return parameters
    }
}
