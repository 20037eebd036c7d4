/// Header fields in the order received. Names compare case-insensitively
/// (RFC 9110 §5.1) and keep the spelling sent; repeated names are kept as
/// separate fields.
public struct HTTPHeaders: Sendable, Equatable, Sequence {
    public typealias Element = (name: String, value: String)

    fileprivate struct Field: Sendable {
        var name: String
        var value: String
    }

    private var fields: [Field] = []

    public init() {}

    public init(_ fields: [(name: String, value: String)]) {
        self.fields = fields.map { Field(name: $0.name, value: $0.value) }
    }

    /// The first value of the field `name`.
    public subscript(name: String) -> String? {
        fields.first { Self.sameName($0.name, name) }?.value
    }

    /// Every value of the field `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { Self.sameName($0.name, name) }.map(\.value)
    }

    public mutating func add(name: String, value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Sets the field `name` to one `value`: in place of its first occurrence
    /// (later ones are removed), or at the end if it is absent.
    public mutating func replaceOrAdd(name: String, value: String) {
        guard let first = fields.firstIndex(where: { Self.sameName($0.name, name) }) else {
            return add(name: name, value: value)
        }
        fields[first] = Field(name: name, value: value)
        let rest = fields[(first + 1)...].filter { !Self.sameName($0.name, name) }
        fields.replaceSubrange((first + 1)..., with: rest)
    }

    public func contains(_ name: String) -> Bool {
        fields.contains { Self.sameName($0.name, name) }
    }

    public var count: Int { fields.count }

    public func makeIterator() -> Iterator {
        Iterator(fields: fields.makeIterator())
    }

    public struct Iterator: IteratorProtocol {
        fileprivate var fields: IndexingIterator<[Field]>

        public mutating func next() -> Element? {
            fields.next().map { ($0.name, $0.value) }
        }
    }

    /// Equal when the same fields come in the same order; names ignore case.
    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.value == $1.value && sameName($0.name, $1.name) }
    }

    mutating func reserveCapacity(_ capacity: Int) {
        fields.reserveCapacity(capacity)
    }

    /// ASCII case-insensitive: field names are tokens, so no other folding applies.
    static func sameName(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8) { ASCII.lowercased($0) == ASCII.lowercased($1) }
    }
}
