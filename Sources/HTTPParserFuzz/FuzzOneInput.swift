import HTTPServer

/// libFuzzer's entry point. The first byte of `data` steers, the rest is the
/// input: parsed whole and again split in two, trapping if the parser
/// misbehaves in a way a crash alone would not show: outcomes that depend on
/// the split, a status outside its set, an error that does not repeat, or a
/// request that differs from its head.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let steering = data[0]
    let input = UnsafeBufferPointer(start: data + 1, count: size - 1)
    // The low bit picks the limits, the other seven where to split.
    let limits = steering & 1 == 0 ? HTTPLimits() : FuzzLimits.tiny
    let split = Int(steering >> 1) * input.count / 127
    let whole = Outcome(parsing: [input[...]], limits: limits)
    let halves = Outcome(parsing: [input[..<split], input[split...]], limits: limits)
    precondition(whole == halves, "outcome depends on where the input is split at \(split)")
    return 0
}

enum FuzzLimits {
    /// Small enough that random inputs reach every limit.
    static let tiny: HTTPLimits = {
        var limits = HTTPLimits()
        limits.maxRequestLineBytes = 40
        limits.maxHeaderBytes = 160
        limits.maxHeaderCount = 6
        limits.maxBodyBytes = 64
        limits.maxChunkLineBytes = 24
        return limits
    }()
}

/// Everything the parser reports for some input, appended in parts.
struct Outcome: Equatable {
    var events: [ParserEvent] = []
    var error: HTTPParseError?

    static let statuses: Set = [400, 413, 414, 417, 431, 501, 505]

    init(parsing parts: [Slice<UnsafeBufferPointer<UInt8>>], limits: HTTPLimits) {
        var parser = RequestParser(limits: limits)
        for part in parts {
            parser.append(part)
            do {
                while let event = try parser.next() { record(event) }
            } catch {
                precondition(Self.statuses.contains(error.status), "unexpected status \(error.status)")
                do {
                    _ = try parser.next()
                    preconditionFailure("an error did not repeat")
                } catch let again {
                    precondition(again == error, "a different error the second time")
                }
                self.error = error
                return
            }
        }
    }

    private mutating func record(_ event: ParserEvent) {
        if case .request(let request) = event {
            guard case .head(var head) = events.last else { preconditionFailure(".request without .head before it") }
            head.body = request.body
            precondition(head == request, "the request differs from its head")
        }
        events.append(event)
    }
}
