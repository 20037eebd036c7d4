/// The byte classes of the HTTP grammar (RFC 9110 §5.5, §5.6; RFC 5234 B.1).
enum ASCII {
    static let nul: UInt8 = 0x00
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let slash: UInt8 = 0x2F
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let equals: UInt8 = 0x3D
    static let question: UInt8 = 0x3F
    static let backslash: UInt8 = 0x5C
    static let comma: UInt8 = 0x2C

    /// tchar: the characters of a token (methods, field names, codings):
    /// "!#$%&'*+-.^_`|~", digits and letters, as bits of two 64-bit masks.
    @inline(__always)
    static func isTokenChar(_ byte: UInt8) -> Bool {
        let low: UInt64 = 0x03FF_6CFA_0000_0000  // bytes 0x00-0x3F
        let high: UInt64 = 0x57FF_FFFF_C7FF_FFFE  // bytes 0x40-0x7F
        let mask = byte < 64 ? low : high
        return byte < 128 && mask & (1 << UInt64(byte & 63)) != 0
    }

    /// VCHAR: printable ASCII without space.
    @inline(__always)
    static func isVisible(_ byte: UInt8) -> Bool {
        byte >= 0x21 && byte <= 0x7E
    }

    /// OWS / BWS characters.
    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == tab
    }

    /// What a field value may hold: VCHAR, SP, HTAB and obs-text (0x80-0xFF).
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        isVisible(byte) || byte == space || byte == tab || byte >= 0x80
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= 0x30 && byte <= 0x39
    }

    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: Int(byte - 0x30)
        case 0x41...0x46: Int(byte - 0x41 + 10)
        case 0x61...0x66: Int(byte - 0x61 + 10)
        default: nil
        }
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }

    /// Whether `bytes` spell `lowercase` ignoring ASCII case (`lowercase` must be lower case).
    static func equalsIgnoringCase<Bytes: Collection<UInt8>>(_ bytes: Bytes, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { bytes.elementsEqual($0) { lowercased($0) == $1 } }
    }

    /// Whether `bytes` start with `lowercase` ignoring ASCII case.
    static func hasPrefixIgnoringCase<Bytes: Collection<UInt8>>(_ bytes: Bytes, _ lowercase: StaticString) -> Bool {
        bytes.count >= lowercase.utf8CodeUnitCount
            && equalsIgnoringCase(bytes.prefix(lowercase.utf8CodeUnitCount), lowercase)
    }

    /// Bytes decoded as UTF-8; obs-text that is not valid UTF-8 becomes U+FFFD.
    static func string<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
