import Foundation
import Testing
@testable import HTTPServer
import TestSupport

/// Real clients on loopback: curl and Python's http.client.
@Suite(.serialized) struct ClientInteropTests {
    static let curl = "/usr/bin/curl"

    @Test func curlReusesTheConnection() throws {
        let server = try TestServer()
        let result = try Subprocess.run(Self.curl, ["-sS", "-v", "\(server.url)/hello", "\(server.url)/items/2"])
        #expect(result.status == 0)
        #expect(result.output == "hello\nitem 2\n")
        #expect(result.error.contains("Re-using existing connection"), "\(result.error)")
    }

    @Test func curlStreamsEventsAsTheyAreWritten() throws {
        let server = try TestServer()
        let result = try Subprocess.run(Self.curl, ["-sS", "-N", "\(server.url)/events"])
        #expect(result.status == 0)
        let expected = (0..<5).map { "event: token\ndata: {\"index\":\($0)}\n\n" }.joined()
        #expect(result.output == expected)
    }

    @Test func curlWaitsFor100ContinueBeforeItsBody() throws {
        let server = try TestServer()
        let body = (0..<500).map { "line \($0)\n" }.joined()
        // curl 7.88 asks for it only above 1 MiB, beyond the body limit: ask explicitly.
        let result = try Subprocess.run(Self.curl, ["-sS", "-v", "-H", "Expect: 100-continue", "--data-binary", "@-", "\(server.url)/echo"],
                                    input: Data(body.utf8))
        #expect(result.status == 0)
        #expect(result.output == body)
        #expect(result.error.contains("Expect: 100-continue") && result.error.contains("HTTP/1.1 100 Continue"), "\(result.error)")
    }

    @Test func curlUploadsChunkedBodies() throws {
        let server = try TestServer()
        let body = String(repeating: "chunked upload ", count: 300)
        let result = try Subprocess.run(Self.curl, ["-sS", "-H", "Transfer-Encoding: chunked", "--data-binary", "@-", "\(server.url)/echo"],
                                    input: Data(body.utf8))
        #expect(result.status == 0)
        #expect(result.output == body)
    }

    @Test func pythonHTTPClientKeepsAliveAndReadsAStream() throws {
        let server = try TestServer()
        let script = """
            import http.client, sys
            c = http.client.HTTPConnection("127.0.0.1", \(server.port), timeout=5)
            for i in range(3):
                c.request("GET", "/items/%d" % i)
                r = c.getresponse()
                assert r.status == 200, r.status
                assert r.read() == b"item %d\\n" % i
                if i == 0: first = c.sock
            c.request("POST", "/echo", body=b"x" * 3000, headers={"Content-Type": "application/octet-stream"})
            r = c.getresponse()
            assert r.read() == b"x" * 3000
            c.request("GET", "/events")
            r = c.getresponse()
            assert r.getheader("Content-Type") == "text/event-stream", r.getheader("Content-Type")
            assert r.getheader("Transfer-Encoding") == "chunked"
            events = r.read().decode().split("\\n\\n")
            assert events[:5] == ['event: token\\ndata: {"index":%d}' % i for i in range(5)], events
            c.request("DELETE", "/items/4")
            r = c.getresponse()
            assert r.status == 204 and r.read() == b""
            c.request("GET", "/nowhere")
            r = c.getresponse()
            assert r.status == 404 and b'"type":"not_found"' in r.read()
            assert c.sock is first, "the connection was not kept alive"
            print("ok")
            """
        let result = try Subprocess.run("/usr/bin/env", ["python3", "-c", script])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output == "ok\n")
    }
}
