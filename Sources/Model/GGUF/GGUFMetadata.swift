/// Typed access to metadata, with errors that name the key.
extension GGUFFile {
    public func value(_ key: String) -> GGUFValue? { metadata[key] }

    public func string(_ key: String) throws -> String {
        guard let value = metadata[key] else { throw GGUFError.missingKey(key) }
        guard case let .string(s) = value else {
            throw GGUFError.wrongKeyType(key: key, expected: "a string", found: value.type.description)
        }
        return s
    }

    public func optionalString(_ key: String) throws -> String? {
        metadata[key] == nil ? nil : try string(key)
    }

    /// Any integer type, checked to lie in `range`.
    public func int(_ key: String, in range: ClosedRange<Int> = 0...Int(Int32.max)) throws -> Int {
        guard let value = metadata[key] else { throw GGUFError.missingKey(key) }
        guard let i = value.integer else {
            throw GGUFError.wrongKeyType(key: key, expected: "an integer", found: value.type.description)
        }
        guard let v = Int(exactly: i), range.contains(v) else {
            throw GGUFError.valueOutOfRange(key: key, reason: "\(i) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }

    public func optionalInt(_ key: String, in range: ClosedRange<Int> = 0...Int(Int32.max)) throws -> Int? {
        metadata[key] == nil ? nil : try int(key, in: range)
    }

    public func float(_ key: String) throws -> Float {
        guard let value = metadata[key] else { throw GGUFError.missingKey(key) }
        guard let x = value.number, x.isFinite else {
            throw GGUFError.wrongKeyType(key: key, expected: "a finite number", found: value.type.description)
        }
        return Float(x)
    }

    public func optionalFloat(_ key: String) throws -> Float? {
        metadata[key] == nil ? nil : try float(key)
    }

    public func optionalBool(_ key: String) throws -> Bool? {
        guard let value = metadata[key] else { return nil }
        guard case let .bool(b) = value else {
            throw GGUFError.wrongKeyType(key: key, expected: "a bool", found: value.type.description)
        }
        return b
    }

    public func array(_ key: String, of elementType: GGUFValueType) throws -> GGUFArray {
        guard let value = metadata[key] else { throw GGUFError.missingKey(key) }
        guard case let .array(a) = value else {
            throw GGUFError.wrongKeyType(key: key, expected: "an array of \(elementType)", found: value.type.description)
        }
        guard a.elementType == elementType || a.count == 0 else {
            throw GGUFError.wrongKeyType(key: key, expected: "an array of \(elementType)", found: "an array of \(a.elementType)")
        }
        return a
    }

    public func optionalArray(_ key: String, of elementType: GGUFValueType) throws -> GGUFArray? {
        metadata[key] == nil ? nil : try array(key, of: elementType)
    }
}
