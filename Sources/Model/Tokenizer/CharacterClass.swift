/// The Unicode classes that pre-tokenizer patterns test: `\p{L}`, `\p{N}`,
/// `\s` (the White_Space property). Computed from the standard library's
/// Unicode tables and cached for the Basic Multilingual Plane.
struct CharacterClass: OptionSet, Sendable {
    let rawValue: UInt8
    static let letter = CharacterClass(rawValue: 1)
    static let number = CharacterClass(rawValue: 2)
    static let whitespace = CharacterClass(rawValue: 4)
    /// Set for every real position; a position past the end of a segment has
    /// no classes at all, which is how patterns see "end of text".
    static let present = CharacterClass(rawValue: 8)

    static func of(_ scalar: UInt32) -> CharacterClass {
        scalar < 0x10000 ? basicPlane[Int(scalar)] : compute(scalar)
    }

    private static let basicPlane: [CharacterClass] = (0..<0x10000).map { compute(UInt32($0)) }

    private static func compute(_ value: UInt32) -> CharacterClass {
        guard let scalar = Unicode.Scalar(value) else { return .present }  // surrogates
        var result: CharacterClass = .present
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            result.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            result.insert(.number)
        default:
            break
        }
        if properties.isWhitespace { result.insert(.whitespace) }
        return result
    }
}
