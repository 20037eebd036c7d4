import JSONTree

/// A JSON schema compiled to what the byte automaton needs: a table of
/// nodes, each a kind of JSON value, and the shortest text of each. Node
/// ids index `nodes`; the first five are the same in every grammar (any
/// value, booleans, null, and the object and array of any values).
///
/// Invariant: every node can be completed (its shortest text is finite),
/// and the alternatives of a union begin with different bytes, so the
/// automaton never has to guess which alternative it is in.
public final class JSONGrammar: Sendable {
    public typealias NodeID = Int32

    enum Node: Sendable {
        case any
        case string
        /// A string of `StringFormat.all[i]`.
        case format(Int)
        case number(integer: Bool)
        /// One of the literal texts of `literalSets[i]` (enum, const, true/false, null).
        case literals(Int)
        /// An object with declared properties, emitted in order (`objects[i]`).
        case object(Int)
        /// An object with arbitrary keys, each value of one node.
        case map(value: NodeID)
        case array(item: NodeID, minItems: Int, maxItems: Int?)
        /// Alternatives told apart by their first byte.
        case union([NodeID])
    }

    /// The properties of an object node, in emission order.
    struct ObjectShape: Sendable {
        /// Each key as its JSON string literal, quotes included.
        let keys: [[UInt8]]
        let values: [NodeID]
        /// For each next property index 0...n: the first required property
        /// at or after it, or n. Properties before it may be skipped.
        let firstRequired: [Int]
        /// Shortest bytes to close the object from "property k was just emitted".
        let afterValueCost: [Int]
        /// Shortest bytes to emit some property from index `next` on and close.
        let propertyCost: [Int]

        var count: Int { keys.count }
        func mayClose(next: Int) -> Bool { firstRequired[next] == count }
        /// Properties that may come next: up to and including the next required one.
        func candidates(next: Int) -> ClosedRange<Int>? {
            guard next < count else { return nil }
            return next...(firstRequired[next] < count ? firstRequired[next] : count - 1)
        }
    }

    let nodes: [Node]
    /// Sorted, without duplicates: candidates sharing a prefix are a range.
    let literalSets: [[[UInt8]]]
    let objects: [ObjectShape]
    /// The shortest complete text of each node, in bytes.
    let minimumBytes: [Int]
    /// The bytes each node's text may begin with.
    let firstBytes: [ByteSet]
    public let root: NodeID

    static let anyNode: NodeID = 0, booleanNode: NodeID = 1, nullNode: NodeID = 2
    static let anyObjectNode: NodeID = 3, anyArrayNode: NodeID = 4
    /// Containers deeper than this are not started inside free-form (`any`) values.
    static let maxFreeDepth = 24
    /// Bytes above which a cost means "impossible".
    static let unreachable = Int.max / 8

    init(nodes: [Node], literalSets: [[[UInt8]]], objects: [ObjectShape], minimumBytes: [Int], firstBytes: [ByteSet], root: NodeID) {
        self.nodes = nodes
        self.literalSets = literalSets
        self.objects = objects
        self.minimumBytes = minimumBytes
        self.firstBytes = firstBytes
        self.root = root
    }

    /// `{"type": "json_object"}`: any JSON object.
    public static let anyObject: JSONGrammar = {
        GrammarBuilder().finish(root: JSONGrammar.anyObjectNode)
    }()

    /// The grammar of a JSON schema, or the first feature outside the supported subset.
    public convenience init(schema: JSON) throws(SchemaError) {
        var compiler = SchemaCompiler(root: schema)
        let root = try compiler.compile(schema, at: "")
        let g = compiler.builder.finish(root: root)
        self.init(nodes: g.nodes, literalSets: g.literalSets, objects: g.objects, minimumBytes: g.minimumBytes,
                  firstBytes: g.firstBytes, root: g.root)
    }

    func objectIndex(_ node: NodeID) -> Int {
        guard case let .object(i) = nodes[Int(node)] else { preconditionFailure("node \(node) is not an object") }
        return i
    }

    /// The bytes of the shortest valid output.
    public var minimumOutputBytes: Int { minimumBytes[Int(root)] }
}

/// 256 bits, one per byte value.
struct ByteSet: Sendable, Equatable {
    var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    static func == (a: ByteSet, b: ByteSet) -> Bool { a.words == b.words }

    init() {}
    init(_ bytes: some Sequence<UInt8>) { for b in bytes { insert(b) } }

    func contains(_ b: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: return words.0 & bit != 0
        case 1: return words.1 & bit != 0
        case 2: return words.2 & bit != 0
        default: return words.3 & bit != 0
        }
    }

    mutating func insert(_ b: UInt8) {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    func union(_ o: ByteSet) -> ByteSet {
        var s = ByteSet()
        s.words = (words.0 | o.words.0, words.1 | o.words.1, words.2 | o.words.2, words.3 | o.words.3)
        return s
    }

    func isDisjoint(with o: ByteSet) -> Bool {
        words.0 & o.words.0 == 0 && words.1 & o.words.1 == 0 && words.2 & o.words.2 == 0 && words.3 & o.words.3 == 0
    }
}

/// Appends nodes, computing each one's shortest text and first bytes from
/// its children, which are always added first (schemas have no recursion).
struct GrammarBuilder {
    var nodes: [JSONGrammar.Node] = []
    var literalSets: [[[UInt8]]] = []
    var objects: [JSONGrammar.ObjectShape] = []
    var minimumBytes: [Int] = []
    var firstBytes: [ByteSet] = []

    static let numberStart = ByteSet(Array("-0123456789".utf8))

    init() {
        let quote = ByteSet([UInt8(ascii: "\"")])
        let open = ByteSet([UInt8(ascii: "{")]), bracket = ByteSet([UInt8(ascii: "[")])
        let anyStart = quote.union(Self.numberStart).union(ByteSet(Array("tfn{[".utf8)))
        nodes = [.any, .literals(0), .literals(1), .map(value: JSONGrammar.anyNode),
                 .array(item: JSONGrammar.anyNode, minItems: 0, maxItems: nil)]
        literalSets = [[Array("false".utf8), Array("true".utf8)], [Array("null".utf8)]]
        minimumBytes = [1, 4, 4, 2, 2]
        firstBytes = [anyStart, ByteSet(Array("tf".utf8)), ByteSet([UInt8(ascii: "n")]), open, bracket]
    }

    mutating func add(_ node: JSONGrammar.Node) -> JSONGrammar.NodeID {
        let (minimum, first): (Int, ByteSet)
        switch node {
        case .any: (minimum, first) = (minimumBytes[0], firstBytes[0])
        case .string: (minimum, first) = (2, ByteSet([UInt8(ascii: "\"")]))
        case .format(let f): (minimum, first) = (StringFormat.all[f].length, ByteSet([UInt8(ascii: "\"")]))
        case .number: (minimum, first) = (1, Self.numberStart)
        case .literals(let set): (minimum, first) = (literalSets[set].map(\.count).min()!, ByteSet(literalSets[set].map { $0[0] }))
        case .object(let o): (minimum, first) = (1 + min(objects[o].mayClose(next: 0) ? 1 : JSONGrammar.unreachable, objects[o].propertyCost[0]),
                                                 ByteSet([UInt8(ascii: "{")]))
        case .map: (minimum, first) = (2, ByteSet([UInt8(ascii: "{")]))
        case let .array(item, minItems, _):
            (minimum, first) = (2 + (minItems == 0 ? 0 : minItems * minimumBytes[Int(item)] + minItems - 1), ByteSet([UInt8(ascii: "[")]))
        case .union(let alternatives):
            minimum = alternatives.map { minimumBytes[Int($0)] }.min()!
            first = alternatives.reduce(ByteSet()) { $0.union(firstBytes[Int($1)]) }
        }
        nodes.append(node)
        minimumBytes.append(minimum)
        firstBytes.append(first)
        return JSONGrammar.NodeID(nodes.count - 1)
    }

    mutating func addLiterals(_ texts: [[UInt8]]) -> JSONGrammar.NodeID {
        literalSets.append(Array(Set(texts)).sorted { $0.lexicographicallyPrecedes($1) })
        return add(.literals(literalSets.count - 1))
    }

    /// An object node; `required[i]` says whether property i must appear.
    mutating func addObject(keys: [[UInt8]], values: [JSONGrammar.NodeID], required: [Bool]) -> JSONGrammar.NodeID {
        let n = keys.count, inf = JSONGrammar.unreachable
        var firstRequired = [Int](repeating: n, count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) { firstRequired[i] = required[i] ? i : firstRequired[i + 1] }
        var afterValue = [Int](repeating: inf, count: n), property = [Int](repeating: inf, count: n + 1)
        for k in stride(from: n - 1, through: 0, by: -1) {
            // Property k emitted: close if nothing required is left, or a comma and the next.
            afterValue[k] = min(firstRequired[k + 1] == n ? 1 : inf, 1 + property[k + 1])
            let last = firstRequired[k] < n ? firstRequired[k] : n - 1
            property[k] = (k...last).map { keys[$0].count + 1 + minimumBytes[Int(values[$0])] + afterValue[$0] }.min()!
        }
        objects.append(JSONGrammar.ObjectShape(keys: keys, values: values, firstRequired: firstRequired,
                                               afterValueCost: afterValue, propertyCost: property))
        return add(.object(objects.count - 1))
    }

    func finish(root: JSONGrammar.NodeID) -> JSONGrammar {
        JSONGrammar(nodes: nodes, literalSets: literalSets, objects: objects, minimumBytes: minimumBytes,
                    firstBytes: firstBytes, root: root)
    }
}
