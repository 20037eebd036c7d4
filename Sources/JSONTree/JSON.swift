/// A JSON value: the one tree every layer reads. A request body is parsed
/// into it once; routes, tools, schemas and chat templates read that tree.
///
/// It keeps what Swift's dictionaries and `Double` lose and what meaning
/// depends on: an object's member order (tool definitions reach templates,
/// and schema properties are generated, in the order the client wrote
/// them) and a number's exact text (an enum's `1.50` is written as given).
/// Invariant: an object made by `JSON.parse` has no repeated key; the last
/// of repeated keys wins, at the place of the first (Python's and
/// JavaScript's rule).
public indirect enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's text, in JSON number syntax.
    case number(String)
    case string(String)
    case array([JSON])
    /// Members in document order.
    case object([(key: String, value: JSON)])

    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)): return x.elementsEqual(y) { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }
}

// MARK: - Making values

extension JSON {
    public init(_ string: String) { self = .string(string) }
    public init(_ bool: Bool) { self = .bool(bool) }
    public init<I: BinaryInteger>(_ integer: I) { self = .number(String(integer)) }

    /// The shortest text that reads back as the same value (Swift's
    /// `1e-05` is JSON too); JSON has no NaN or infinity, so those are null.
    public init(_ double: Double) {
        self = double.isFinite ? .number(double.description) : .null
    }

    public init(_ float: Float) {
        self = float.isFinite ? .number(float.description) : .null
    }

}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    public init(floatLiteral value: Double) { self.init(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    /// Members in the order written.
    public init(dictionaryLiteral elements: (String, JSON)...) { self = .object(elements.map { (key: $0.0, value: $0.1) }) }
}

// MARK: - Reading values

extension JSON {
    /// The value of the member `key` of an object (the last one, should a
    /// tree built in code repeat it); nil for a missing member or a value
    /// that is not an object. Setting nil removes the member; setting a
    /// value replaces it in place or appends it.
    public subscript(key: String) -> JSON? {
        get {
            guard case let .object(members) = self else { return nil }
            return members.last { $0.key == key }?.value
        }
        set {
            guard case var .object(members) = self else { return }
            if let i = members.lastIndex(where: { $0.key == key }) {
                if let newValue { members[i].value = newValue } else { members.remove(at: i) }
            } else if let newValue {
                members.append((key, newValue))
            }
            self = .object(members)
        }
    }

    public var isNull: Bool { if case .null = self { true } else { false } }
    public var stringValue: String? { if case let .string(s) = self { s } else { nil } }
    public var boolValue: Bool? { if case let .bool(b) = self { b } else { nil } }
    public var arrayValue: [JSON]? { if case let .array(a) = self { a } else { nil } }
    public var objectValue: [(key: String, value: JSON)]? { if case let .object(o) = self { o } else { nil } }

    /// A number's value as a `Double` (rounded as the text says).
    public var doubleValue: Double? { if case let .number(text) = self { Double(text) } else { nil } }

    /// A number that is a whole number (`3`, `3.0`, `3e2`) within what a
    /// `Double` holds exactly; nil for fractions and other kinds.
    public var intValue: Int? {
        guard case let .number(text) = self else { return nil }
        if let n = Int(text) { return n }
        guard let d = Double(text), d.rounded() == d, abs(d) < 9e15 else { return nil }
        return Int(d)
    }

    /// What kind of value this is, for error messages ("a string").
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
