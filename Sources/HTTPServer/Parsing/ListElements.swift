/// Calls `body` with each element of a comma-separated field value (RFC 9110
/// §5.6.1), OWS trimmed, in order. Empty elements are passed too: some fields
/// may ignore them, others (Content-Length) must refuse them.
func forEachListElement(
    _ value: UnsafeBufferPointer<UInt8>, _ body: (Slice<UnsafeBufferPointer<UInt8>>) -> Void
) {
    var start = 0
    while start <= value.count {
        var end = start
        while end < value.count, value[end] != ASCII.comma { end += 1 }
        var first = start
        var last = end
        while first < last, ASCII.isWhitespace(value[first]) { first += 1 }
        while last > first, ASCII.isWhitespace(value[last - 1]) { last -= 1 }
        body(value[first..<last])
        start = end + 1
    }
}
