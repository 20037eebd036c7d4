/// How a request's body is delimited (RFC 9112 §6.3).
enum BodyFraming: Equatable {
    case none
    case length(Int)
    case chunked
}

/// What the header section decides beyond the fields themselves.
struct HeadDecision {
    var framing: BodyFraming
    var keepAlive: Bool
    var expectsContinue: Bool
}

/// The fields that decide framing and connection handling (Host,
/// Content-Length, Transfer-Encoding, Expect, Connection), noted from their
/// bytes while the header section is parsed and judged once it is complete,
/// so the verdict does not depend on the order the fields arrive in.
struct HeadFields {
    private var hostCount = 0
    private var hostIsValid = true

    private var contentLengthCount = 0
    /// The first Content-Length element: its value (nil if it overflows) and digit count.
    private var contentLength: (value: Int?, digits: Int)?
    /// The first thing wrong with the Content-Length elements, in the order they came.
    private var contentLengthProblem: String?

    private var transferEncodingCount = 0
    /// The transfer codings of every Transfer-Encoding field, as one list (RFC 9112 §6.1).
    private var codingCount = 0
    private var chunkedCount = 0
    private var lastCodingIsChunked = false

    private var expectsContinue = false
    private var unsupportedExpectation = false
    private var closeRequested = false
    private var keepAliveRequested = false

    /// Notes one header field from its raw name and trimmed value.
    mutating func note(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
        // Dispatch on length first: most fields are none of these.
        switch name.count {
        case 4 where ASCII.equalsIgnoringCase(name, "host"):
            hostCount += 1
            hostIsValid = hostIsValid && value.allSatisfy(HostField.isHostByte)
        case 6 where ASCII.equalsIgnoringCase(name, "expect"):
            noteExpectation(value)
        case 10 where ASCII.equalsIgnoringCase(name, "connection"):
            forEachListElement(value) { option in
                if ASCII.equalsIgnoringCase(option, "close") { closeRequested = true }
                if ASCII.equalsIgnoringCase(option, "keep-alive") { keepAliveRequested = true }
            }
        case 14 where ASCII.equalsIgnoringCase(name, "content-length"):
            contentLengthCount += 1
            forEachListElement(value) { noteContentLength($0) }
        case 17 where ASCII.equalsIgnoringCase(name, "transfer-encoding"):
            transferEncodingCount += 1
            forEachListElement(value) { coding in
                guard !coding.isEmpty else { return }
                let isChunked = ASCII.equalsIgnoringCase(coding, "chunked")
                codingCount += 1
                chunkedCount += isChunked ? 1 : 0
                lastCodingIsChunked = isChunked
            }
        default:
            break
        }
    }

    /// Content-Length = 1*DIGIT; every element of every field must be the same digits.
    private mutating func noteContentLength(_ element: Slice<UnsafeBufferPointer<UInt8>>) {
        guard contentLengthProblem == nil else { return }
        guard !element.isEmpty, element.allSatisfy(ASCII.isDigit) else {
            contentLengthProblem = "invalid Content-Length"
            return
        }
        var value: Int? = 0
        for digit in element {
            value = value.flatMap { Self.appendingDigit(digit, to: $0) }
        }
        guard let first = contentLength else {
            contentLength = (value, element.count)
            return
        }
        // Equal digit strings of one length have one value, so this compares the text.
        if first.digits != element.count || first.value != value {
            contentLengthProblem = "conflicting Content-Length values"
        }
    }

    private static func appendingDigit(_ digit: UInt8, to value: Int) -> Int? {
        let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
        let (sum, carry) = shifted.addingReportingOverflow(Int(digit - 0x30))
        return overflow || carry ? nil : sum
    }

    /// Only "100-continue" is understood (RFC 9110 §10.1.1); an empty Expect asks for nothing known either.
    private mutating func noteExpectation(_ value: UnsafeBufferPointer<UInt8>) {
        var expectations = 0
        forEachListElement(value) { expectation in
            guard !expectation.isEmpty else { return }
            expectations += 1
            if ASCII.equalsIgnoringCase(expectation, "100-continue") {
                expectsContinue = true
            } else {
                unsupportedExpectation = true
            }
        }
        if expectations == 0 { unsupportedExpectation = true }
    }

    /// Applies RFC 9112 §3.2 (Host), §6.1-6.3 (framing) and RFC 9110 §10.1.1 (Expect), in that order.
    func judge(version: HTTPVersion, limits: HTTPLimits) throws(HTTPParseError) -> HeadDecision {
        if hostCount > 1 { throw .badRequest("more than one Host field") }
        if hostCount == 0, version == .http1_1 { throw .badRequest("missing Host field") }
        if !hostIsValid { throw .badRequest("invalid Host field") }
        let framing: BodyFraming
        if transferEncodingCount > 0 {
            try checkTransferEncoding(version: version)
            framing = .chunked
        } else if contentLengthCount > 0 {
            framing = .length(try checkedContentLength(limit: limits.maxBodyBytes))
        } else {
            framing = .none
        }
        if unsupportedExpectation {
            throw HTTPParseError(status: 417, message: "unsupported expectation (only 100-continue is)")
        }
        return HeadDecision(
            framing: framing,
            keepAlive: !closeRequested && (version == .http1_1 || keepAliveRequested),
            expectsContinue: expectsContinue && version == .http1_1)
    }

    /// Transfer-Encoding must be exactly "chunked": anything that could frame
    /// the body two ways is refused (request smuggling).
    private func checkTransferEncoding(version: HTTPVersion) throws(HTTPParseError) {
        if contentLengthCount > 0 { throw .badRequest("Content-Length and Transfer-Encoding together") }
        if version == .http1_0 { throw .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
        if codingCount == 0 { throw .badRequest("empty Transfer-Encoding") }
        if !lastCodingIsChunked { throw .badRequest("chunked is not the last transfer coding") }
        if chunkedCount > 1 { throw .badRequest("chunked applied more than once") }
        if codingCount > 1 { throw HTTPParseError(status: 501, message: "unsupported transfer coding (only chunked is)") }
    }

    private func checkedContentLength(limit: Int) throws(HTTPParseError) -> Int {
        if let contentLengthProblem { throw .badRequest(contentLengthProblem) }
        guard let length = contentLength?.value else { throw .badRequest("Content-Length too large") }
        guard length <= limit else {
            throw HTTPParseError(status: 413, message: "body of \(length) bytes exceeds the limit of \(limit)")
        }
        return length
    }
}
