import Foundation
import Testing
@testable import HTTPServer
import TestSupport

/// A server on a free loopback port with routes that exercise every kind of
/// answer; `closedStreams` counts streams whose client went away.
final class TestServer: @unchecked Sendable {
    let server: HTTPServer
    let closedStreams = Mutex(0)
    var port: Int { server.port }

    init(_ edit: (inout HTTPServerConfiguration) -> Void = { _ in }) throws {
        var configuration = HTTPServerConfiguration()
        configuration.port = 0
        edit(&configuration)
        var router = Router()
        router.add("GET", "/hello") { _, responder in responder.send(.text("hello\n")) }
        router.add("POST", "/echo") { request, responder in
            responder.send(HTTPResponse(status: 200, headers: HTTPHeaders([(name: "Content-Type", value: "application/octet-stream")]), body: request.body))
        }
        router.add("GET", "/items/{id}") { _, responder in responder.send(.text("item \(responder.parameters["id"]!)\n")) }
        router.add("DELETE", "/items/{id}") { _, responder in responder.send(HTTPResponse(status: 204)) }
        // Five events, 10 ms apart, from another thread.
        router.add("GET", "/events") { _, responder in
            let stream = responder.eventStream()
            DispatchQueue.global().async {
                for i in 0..<5 {
                    stream.write(ServerSentEvent(event: "token", data: "{\"index\":\(i)}"))
                    usleep(10_000)
                }
                stream.finish()
            }
        }
        // Writes until the client goes away; 64 KiB per write.
        router.add("GET", "/firehose") { [closedStreams] _, responder in
            let stream = responder.stream(headers: HTTPHeaders([(name: "Content-Type", value: "application/octet-stream")]))
            responder.onClose { closedStreams.withLock { $0 += 1 } }
            DispatchQueue.global().async {
                let block = [UInt8](repeating: 0x61, count: 65536)
                while stream.isOpen { stream.write(block); usleep(1000) }
            }
        }
        // An event stream that stays open, silent, until the client leaves.
        router.add("GET", "/quiet") { [closedStreams] _, responder in
            _ = responder.eventStream()
            responder.onClose { closedStreams.withLock { $0 += 1 } }
        }
        server = HTTPServer(configuration: configuration, router: router)
        try server.start()
    }

    deinit { server.shutdown() }

    var url: String { "http://127.0.0.1:\(port)" }
}

/// Waits up to `seconds` for `condition`.
func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

@Suite(.serialized) struct LoopbackServerTests {
    @Test func answersAndKeepsTheConnectionAlive() throws {
        let server = try TestServer()
        let client = try LoopbackClient(port: server.port)
        for _ in 0..<3 {
            client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = client.read { $0.hasSuffix("hello\n") }
            #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(response.contains("Content-Length: 6\r\n"))
        }
        #expect(server.server.connectionCount == 1)
    }

    @Test func listensOnIPv6() throws {
        let server = try TestServer { $0.host = "::1" }
        let result = try Subprocess.run("/usr/bin/curl", ["-sS", "-g", "http://[::1]:\(server.port)/hello"])
        #expect(result.status == 0 && result.output == "hello\n", "\(result.error)")
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let server = try TestServer()
        let client = try LoopbackClient(port: server.port)
        client.send("GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcdeGET /items/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let all = String(decoding: client.readToEnd(), as: UTF8.self)
        let first = all.range(of: "item 1\n"), second = all.range(of: "abcde"), third = all.range(of: "item 3\n")
        #expect(first != nil && second != nil && third != nil)
        if let first, let second, let third { #expect(first.upperBound <= second.lowerBound && second.upperBound <= third.lowerBound) }
        #expect(all.components(separatedBy: "HTTP/1.1 200 OK").count == 4)
    }

    @Test func routerAnswers404And405AndHead() throws {
        let server = try TestServer()
        let client = try LoopbackClient(port: server.port)
        client.send("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        let notFound = client.read { $0.contains("}\n") }
        #expect(notFound.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(notFound.contains("{\"error\":{\"message\":\"no route for /nothing\",\"type\":\"not_found\"}}"))
        client.send("PUT /items/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        let notAllowed = client.read { $0.contains("}\n") }
        #expect(notAllowed.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(notAllowed.contains("Allow: DELETE, GET, HEAD\r\n"))
        client.send("HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let head = String(decoding: client.readToEnd(), as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.contains("Content-Length: 6\r\n") && head.hasSuffix("\r\n\r\n"))
    }

    @Test func malformedRequestGets400AndClose() throws {
        let server = try TestServer()
        let client = try LoopbackClient(port: server.port)
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
        let response = String(decoding: client.readToEnd(), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(response.contains("Connection: close\r\n"))
        #expect(response.contains("\"type\":\"invalid_request\""))
        #expect(eventually { server.server.connectionCount == 0 && server.server.openDescriptorCount == 0 })
    }

    @Test func http10GetsItsAnswerAndAClose() throws {
        let server = try TestServer()
        let client = try LoopbackClient(port: server.port)
        client.send("GET /events HTTP/1.0\r\n\r\n")
        let response = String(decoding: client.readToEnd(), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n") && !response.contains("chunked"))
        #expect(response.hasSuffix("event: token\ndata: {\"index\":4}\n\n"))
    }

    @Test func connectionsBeyondTheLimitGet503() throws {
        let server = try TestServer { $0.maxConnections = 2 }
        let a = try LoopbackClient(port: server.port), b = try LoopbackClient(port: server.port)
        a.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"); _ = a.read { $0.hasSuffix("hello\n") }
        b.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"); _ = b.read { $0.hasSuffix("hello\n") }
        let c = try LoopbackClient(port: server.port)
        let refused = String(decoding: c.readToEnd(), as: UTF8.self)
        #expect(refused.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n") && refused.contains("Retry-After: 1\r\n"))
    }

    @Test func slowLorisIsCutOffByTheHeaderTimeout() throws {
        let server = try TestServer { $0.headerTimeout = 0.5 }
        let client = try LoopbackClient(port: server.port)
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\n")  // and never the blank line
        let response = String(decoding: client.readToEnd(), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(eventually { server.server.connectionCount == 0 && server.server.openDescriptorCount == 0 })
    }

    @Test func aStalledBodyIsCutOffByTheBodyTimeout() throws {
        let server = try TestServer { $0.bodyTimeout = 0.5 }
        let client = try LoopbackClient(port: server.port)
        client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        let response = String(decoding: client.readToEnd(), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
    }

    @Test func idleKeepAliveConnectionsAreClosed() throws {
        let server = try TestServer { $0.idleTimeout = 0.5 }
        let client = try LoopbackClient(port: server.port)
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = client.read { $0.hasSuffix("hello\n") }
        #expect(client.isClosedByServer())
        #expect(eventually { server.server.connectionCount == 0 && server.server.openDescriptorCount == 0 })
    }

    @Test func aReaderThatStallsIsDisconnectedAndItsStreamLearnsAtOnce() throws {
        // A cap on unsent output far above what piles up in the timeout, so that the timeout does it.
        let server = try TestServer { $0.writeTimeout = 0.5; $0.maxBufferedOutputBytes = 1 << 30 }
        let client = try LoopbackClient(port: server.port)
        client.send("GET /firehose HTTP/1.1\r\nHost: x\r\n\r\n")
        // Never read: the socket buffers fill, then the write timeout fires.
        #expect(eventually(5) { server.closedStreams.withLock { $0 } == 1 })
        #expect(eventually { server.server.connectionCount == 0 && server.server.openDescriptorCount == 0 })
    }

    @Test func aReaderThatLetsTooMuchPileUpIsDisconnected() throws {
        let server = try TestServer { $0.writeTimeout = 60; $0.maxBufferedOutputBytes = 1 << 20 }
        let client = try LoopbackClient(port: server.port)
        client.send("GET /firehose HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(eventually(5) { server.closedStreams.withLock { $0 } == 1 })
        #expect(eventually { server.server.connectionCount == 0 && server.server.openDescriptorCount == 0 })
    }

    @Test func aClientThatLeavesMidStreamIsNoticed() throws {
        let server = try TestServer()
        do {
            let client = try LoopbackClient(port: server.port)
            client.send("GET /quiet HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = client.read { $0.contains("\r\n\r\n") }
        }  // closed here
        #expect(eventually(1) { server.closedStreams.withLock { $0 } == 1 })
        #expect(eventually { server.server.connectionCount == 0 && server.server.openDescriptorCount == 0 })
    }

    @Test func idleEventStreamsGetHeartbeats() throws {
        let server = try TestServer { $0.heartbeatInterval = 0.3 }
        let client = try LoopbackClient(port: server.port)
        client.send("GET /quiet HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = client.read { $0.contains(": keep-alive\n\n") }
        #expect(response.contains("Content-Type: text/event-stream\r\n") && response.contains("Cache-Control: no-cache\r\n"))
        #expect(response.contains(": keep-alive\n\n"))
    }

    @Test func aSignalStartsTheGracefulShutdown() throws {
        let server = try TestServer()
        let finished = Mutex(false)
        // SIGUSR2 stands in for SIGTERM, which the test runner must keep.
        server.server.shutdownOnSignals([SIGUSR2]) { finished.withLock { $0 = true } }
        kill(getpid(), SIGUSR2)
        #expect(eventually { finished.withLock { $0 } })
        #expect(throws: (any Error).self) { _ = try LoopbackClient(port: server.port) }
    }

    @Test func shutdownLetsInFlightStreamsFinishAndRefusesNewConnections() throws {
        let server = try TestServer()
        let client = try LoopbackClient(port: server.port)
        client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = client.read { $0.contains("\r\n\r\n") }
        let done = Mutex(false)
        server.server.shutdown { done.withLock { $0 = true } }
        let rest = String(decoding: client.readToEnd(), as: UTF8.self)
        #expect(rest.contains("data: {\"index\":4}") && rest.hasSuffix("0\r\n\r\n"))
        #expect(eventually { done.withLock { $0 } })
        #expect(throws: (any Error).self) { _ = try LoopbackClient(port: server.port) }
    }
}
