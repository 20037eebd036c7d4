import Testing
@testable import HTTPServer

/// The event protocol of RequestParser: head then request, pipelining, errors that stick, idleness.
@Suite struct ParserBehaviourTests {
    private let get = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"

    @Test func bodylessRequestGivesHeadThenRequestOnConsecutiveCalls() throws {
        var parser = RequestParser()
        parser.append(Array(get.utf8))
        guard case .head(let head) = try parser.next() else { Issue.record("no head"); return }
        guard case .request(let request) = try parser.next() else { Issue.record("no request"); return }
        #expect(head == request)
        #expect(try parser.next() == nil)
        #expect(parser.isIdle)
    }

    @Test func pipelinedRequestsComeOutInOrder() throws {
        let input = get + "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi" + get.replacingOccurrences(of: "/a", with: "/c")
        var parser = RequestParser()
        parser.append(Array(input.utf8))
        var order: [String] = []
        while let event = try parser.next() {
            switch event {
            case .head(let request): order.append("head \(request.path)")
            case .request(let request): order.append("request \(request.path) \(request.body.count)")
            }
        }
        #expect(order == ["head /a", "request /a 0", "head /b", "request /b 2", "head /c", "request /c 0"])
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func bufferedBytesWaitForTheirTurn() throws {
        var parser = RequestParser()
        parser.append(Array((get + "GET /next").utf8))
        _ = try parser.next()
        #expect(parser.bufferedByteCount == "GET /next".utf8.count)
        _ = try parser.next()
        #expect(try parser.next() == nil)
        #expect(parser.bufferedByteCount == "GET /next".utf8.count)
        #expect(!parser.isIdle)
    }

    @Test func idleOnlyBetweenRequestsWithNothingBuffered() throws {
        var parser = RequestParser()
        #expect(parser.isIdle)
        parser.append(Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n".utf8))
        #expect(!parser.isIdle)
        _ = try parser.next()
        #expect(parser.bufferedByteCount == 0)
        #expect(!parser.isIdle)  // mid-request: the body is still to come
        parser.append([UInt8(ascii: "x")])
        _ = try parser.next()
        #expect(parser.isIdle)
    }

    @Test func anErrorRepeatsAndLaterBytesAreIgnored() {
        var parser = RequestParser()
        parser.append(Array("GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n".utf8))
        let expected = HTTPParseError.badRequest("whitespace before the colon in header section")
        #expect(throws: expected) { try parser.next() }
        parser.append(Array(get.utf8))
        #expect(throws: expected) { try parser.next() }
        #expect(throws: expected) { try parser.next() }
        #expect(!parser.isIdle)
    }

    @Test func eventsBeforeAnErrorAreDelivered() {
        let outcome = ParseOutcome(get + "GET / HTTP/9.0\r\n\r\n")
        #expect(outcome.requests.count == 1)
        #expect(outcome.status == 505)
    }

    @Test func bodyArrivingInPiecesIsAssembled() throws {
        var parser = RequestParser()
        parser.append(Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123".utf8))
        guard case .head = try parser.next() else { Issue.record("no head"); return }
        #expect(try parser.next() == nil)
        parser.append(Array("456".utf8))
        #expect(try parser.next() == nil)
        parser.append(Array("789GET".utf8))
        guard case .request(let request) = try parser.next() else { Issue.record("no request"); return }
        #expect(request.body == Array("0123456789".utf8))
        #expect(parser.bufferedByteCount == 3)
    }

    @Test func manyRequestsThroughOneParserKeepTheBufferSmall() throws {
        var parser = RequestParser()
        let request = Array("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc".utf8)
        var completed = 0
        for round in 0..<2_000 {
            // Uneven pieces so requests straddle appends.
            let cut = round % request.count
            parser.append(request[..<cut])
            parser.append(request[cut...])
            while let event = try parser.next() {
                if case .request(let parsed) = event {
                    #expect(parsed.body == Array("abc".utf8))
                    completed += 1
                }
            }
            #expect(parser.bufferedByteCount < request.count)
        }
        #expect(completed == 2_000)
    }
}
