import JSONTree

/// Where the byte automaton of a `JSONGrammar` is: a stack of frames, one
/// per value being written, innermost on top. A value type, advanced one
/// byte at a time; equal states accept exactly the same continuations, so
/// a state is the key of the token mask cache.
///
/// Invariant: a frame below the top is already in the phase it will be in
/// once the value above it ends ("after value"), so ending a value is a pop.
public struct GrammarState: Hashable, Sendable {
    let grammar: JSONGrammar
    var top: Frame
    /// Frames below `top`, shared between states (pushing allocates, advancing the top does not).
    var below: FrameLink?
    /// Whitespace bytes in the current run (bounded, so a model cannot loop on it).
    var whitespace: UInt8 = 0
    var depth = 0

    /// Whitespace bytes allowed in a row between structural characters:
    /// room for a newline and indentation, not for a loop.
    public static let maxWhitespaceRun: UInt8 = 12

    public init(_ grammar: JSONGrammar) {
        self.grammar = grammar
        top = Frame(kind: .root, phase: 0, node: grammar.root)
    }

    public static func == (a: GrammarState, b: GrammarState) -> Bool {
        a.top == b.top && a.whitespace == b.whitespace && a.depth == b.depth && a.grammar === b.grammar
            && FrameLink.equal(a.below, b.below)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(top)
        hasher.combine(whitespace)
        var link = below
        while let l = link { hasher.combine(l.frame); link = l.below }
    }

    /// The value is complete: end-of-generation may come now.
    public var isAccepting: Bool {
        if top.kind == .root { return top.phase == 1 }
        guard depth == 1 else { return false }
        switch top.kind {
        case .number: return Number.isTerminal(top.phase)
        case .literal: return grammar.literalSets[Int(top.a)][Int(top.a2)].count == Int(top.b)
        default: return false
        }
    }

    /// Complete, and no byte can follow: end-of-generation must come now.
    public var isComplete: Bool { top.kind == .root && top.phase == 1 }

    /// Feeds one byte; false when the grammar does not allow it here, and
    /// the state is then meaningless (callers advance a copy).
    public mutating func advance(_ byte: UInt8) -> Bool {
        let isSpace = byte == 0x20 || byte == 0x0A || byte == 0x09
        if !isSpace { whitespace = 0 }
        switch top.kind {
        case .root: return advanceRoot(byte)
        case .string: return advanceString(byte)
        case .format: return advanceFormat(byte)
        case .number: return advanceNumber(byte)
        case .literal: return advanceLiteral(byte)
        case .object: return advanceObject(byte, isSpace: isSpace)
        case .map: return advanceMap(byte, isSpace: isSpace)
        case .array: return advanceArray(byte, isSpace: isSpace)
        }
    }

    public mutating func advance(_ bytes: some Sequence<UInt8>) -> Bool {
        for b in bytes where !advance(b) { return false }
        return true
    }

    // MARK: the stack

    mutating func push(_ frame: Frame) {
        below = FrameLink(frame: top, below: below, cost: cost(of: top) + (below?.cost ?? 0))
        top = frame
        depth += 1
    }

    /// The value on top ended: its parent is already in its after-value phase.
    mutating func pop() {
        top = below!.frame
        below = below!.below
        depth -= 1
    }

    /// Counts a whitespace byte where structure allows it.
    mutating func space() -> Bool {
        guard whitespace < Self.maxWhitespaceRun else { return false }
        whitespace += 1
        return true
    }

    /// Starts a value of `node` with its first byte (the parent has moved on).
    mutating func startValue(_ node: JSONGrammar.NodeID, _ byte: UInt8) -> Bool {
        switch grammar.nodes[Int(node)] {
        case .string:
            guard byte == UInt8(ascii: "\"") else { return false }
            push(Frame(kind: .string, phase: StringPhase.plain, node: node))
            return true
        case .format(let f):
            push(Frame(kind: .format, phase: 0, node: node, a: Int32(f), c: StringFormat.all[f].allAlive(0)))
            return advanceFormat(byte)
        case .number(let integer):
            guard byte == UInt8(ascii: "-") || (0x30...0x39).contains(byte) else { return false }
            push(Frame(kind: .number, phase: Number.start, node: node, b: integer ? 1 : 0))
            return advanceNumber(byte)
        case .literals(let set):
            push(Frame(kind: .literal, phase: 0, node: node, a: Int32(set), a2: 0, b: 0, c: Int32(grammar.literalSets[set].count)))
            return advanceLiteral(byte)
        case .object:
            guard byte == UInt8(ascii: "{") else { return false }
            push(Frame(kind: .object, phase: ObjectPhase.open, node: node, a: -1, c: 0))
            return true
        case .map:
            guard byte == UInt8(ascii: "{"), depth < JSONGrammar.maxFreeDepth || node != JSONGrammar.anyObjectNode else { return false }
            push(Frame(kind: .map, phase: ObjectPhase.open, node: node))
            return true
        case .array:
            guard byte == UInt8(ascii: "["), depth < JSONGrammar.maxFreeDepth || node != JSONGrammar.anyArrayNode else { return false }
            push(Frame(kind: .array, phase: ObjectPhase.open, node: node, a: 0))
            return true
        case .union(let alternatives):
            guard let a = alternatives.first(where: { grammar.firstBytes[Int($0)].contains(byte) }) else { return false }
            return startValue(a, byte)
        case .any:
            switch byte {
            case UInt8(ascii: "\""): push(Frame(kind: .string, phase: StringPhase.plain, node: node)); return true
            case UInt8(ascii: "t"), UInt8(ascii: "f"): return startValue(JSONGrammar.booleanNode, byte)
            case UInt8(ascii: "n"): return startValue(JSONGrammar.nullNode, byte)
            case UInt8(ascii: "{"): return startValue(JSONGrammar.anyObjectNode, byte)
            case UInt8(ascii: "["): return startValue(JSONGrammar.anyArrayNode, byte)
            default:
                guard byte == UInt8(ascii: "-") || (0x30...0x39).contains(byte) else { return false }
                push(Frame(kind: .number, phase: Number.start, node: node, b: 0))
                return advanceNumber(byte)
            }
        }
    }

    // MARK: each kind of frame

    mutating func advanceRoot(_ byte: UInt8) -> Bool {
        guard top.phase == 0 else { return false }  // nothing after the value, not even whitespace
        top.phase = 1
        return startValue(top.node, byte)
    }

    mutating func advanceString(_ byte: UInt8) -> Bool {
        switch top.phase {
        case StringPhase.plain:
            switch byte {
            case UInt8(ascii: "\""): pop()
            case UInt8(ascii: "\\"): top.phase = StringPhase.escape
            case 0..<0x20: return false
            case 0x20..<0x80: break
            // UTF-8 lead bytes: how many continuation bytes, and the range of
            // the first (which excludes overlong forms, surrogates, > U+10FFFF).
            case 0xC2...0xDF: startContinuation(1, 0x80, 0xBF)
            case 0xE0: startContinuation(2, 0xA0, 0xBF)
            case 0xED: startContinuation(2, 0x80, 0x9F)
            case 0xE1...0xEF: startContinuation(2, 0x80, 0xBF)
            case 0xF0: startContinuation(3, 0x90, 0xBF)
            case 0xF1...0xF3: startContinuation(3, 0x80, 0xBF)
            case 0xF4: startContinuation(3, 0x80, 0x8F)
            default: return false
            }
        case StringPhase.continuation:
            guard byte >= UInt8(top.b), byte <= UInt8(top.c) else { return false }
            top.a -= 1
            top.b = 0x80
            top.c = 0xBF
            if top.a == 0 { top.phase = StringPhase.plain }
        case StringPhase.escape:
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                 UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                top.phase = StringPhase.plain
            case UInt8(ascii: "u"):
                top.phase = StringPhase.hex
                top.a = 4
                top.b = 0
            default: return false
            }
        default:  // hex digits of \uXXXX; surrogates (D800-DFFF) are refused, UTF-8 covers those characters
            guard let digit = JSON.hexDigitValue(byte) else { return false }
            if top.a == 4 { top.b = digit == 0xD ? 1 : 0 }
            if top.a == 3 && top.b == 1 && digit >= 8 { return false }
            top.a -= 1
            if top.a == 0 { top.phase = StringPhase.plain }
        }
        return true
    }

    private mutating func startContinuation(_ count: Int32, _ low: Int32, _ high: Int32) {
        top.phase = StringPhase.continuation
        top.a = count
        top.b = low
        top.c = high
    }

    mutating func advanceNumber(_ byte: UInt8) -> Bool {
        if let next = Number.next(top.phase, byte, integer: top.b == 1) {
            top.phase = next
            return true
        }
        // A byte that cannot continue the number ends it, if it can end here.
        guard Number.isTerminal(top.phase) else { return false }
        pop()
        return advance(byte)
    }

    /// Literal frame: a = the set, [a2, c) the literals still possible
    /// (sorted, so a range), b = bytes matched.
    /// Format frame: a = the format, b = bytes written, c = the current
    /// piece's alternatives still alive (a bit each).
    mutating func advanceFormat(_ byte: UInt8) -> Bool {
        let format = StringFormat.all[Int(top.a)], position = Int(top.b)
        let p = format.piece(at: position), offset = position - format.starts[p]
        var alive: Int32 = 0
        for (i, alternative) in format.pieces[p].enumerated() where top.c & (1 << i) != 0 && alternative[offset].contains(byte) {
            alive |= 1 << i
        }
        guard alive != 0 else { return false }
        if position + 1 == format.length {
            pop()
            return true
        }
        top.b += 1
        top.c = position + 1 == format.starts[p + 1] ? format.allAlive(p + 1) : alive
        return true
    }

    mutating func advanceLiteral(_ byte: UInt8) -> Bool {
        let set = grammar.literalSets[Int(top.a)], offset = Int(top.b)
        var low = Int(top.a2), high = Int(top.c)
        // Literals equal to the matched prefix sort first in the range.
        let complete = set[low].count == offset
        while low < high && (set[low].count <= offset || set[low][offset] < byte) { low += 1 }
        var end = low
        while end < high && set[end][offset] == byte { end += 1 }
        high = end
        guard low < high else {
            // A complete literal (a number, as `1` before `12`) ends on a byte that cannot extend it.
            guard complete else { return false }
            pop()
            return advance(byte)
        }
        top.a2 = Int32(low)
        top.c = Int32(high)
        top.b += 1
        // Complete and nothing longer possible: the value ends now.
        if set[low].count == offset + 1 && high - low == 1 { pop() }
        return true
    }

    /// Object frame: a = the property being written (last emitted), c = the
    /// next property index; in a key, a2 = the candidate matched, b = bytes matched.
    mutating func advanceObject(_ byte: UInt8, isSpace: Bool) -> Bool {
        let shape = grammar.objects[grammar.objectIndex(top.node)]
        switch top.phase {
        case ObjectPhase.open, ObjectPhase.comma:
            if isSpace { return space() }
            if byte == UInt8(ascii: "}") && top.phase == ObjectPhase.open && shape.mayClose(next: Int(top.c)) { pop(); return true }
            guard byte == UInt8(ascii: "\""), let candidates = shape.candidates(next: Int(top.c)) else { return false }
            top.phase = ObjectPhase.key
            top.a2 = Int32(candidates.lowerBound)
            top.b = 1
            return true
        case ObjectPhase.key:
            let offset = Int(top.b), current = shape.keys[Int(top.a2)]
            guard let candidates = shape.candidates(next: Int(top.c)),
                  let match = candidates.first(where: { k in
                      let key = shape.keys[k]
                      return key.count > offset && key[offset] == byte && key[..<offset].elementsEqual(current[..<offset])
                  }) else { return false }
            top.a2 = Int32(match)
            top.b += 1
            if shape.keys[match].count == offset + 1 {
                top.phase = ObjectPhase.colon
                top.a = Int32(match)
            }
            return true
        case ObjectPhase.colon, ObjectPhase.value:
            return advanceMember(byte, isSpace: isSpace, value: shape.values[Int(top.a)])
        default:  // after a value
            if isSpace { return space() }
            let next = Int(top.a) + 1
            if byte == UInt8(ascii: "}") && shape.mayClose(next: next) { pop(); return true }
            guard byte == UInt8(ascii: ","), next < shape.count else { return false }
            top.phase = ObjectPhase.comma
            top.c = Int32(next)
            return true
        }
    }

    /// After a key, alike in objects and maps: the colon, then the value's first byte.
    mutating func advanceMember(_ byte: UInt8, isSpace: Bool, value: JSONGrammar.NodeID) -> Bool {
        if isSpace { return space() }
        guard top.phase == ObjectPhase.value else {
            guard byte == UInt8(ascii: ":") else { return false }
            top.phase = ObjectPhase.value
            return true
        }
        top.phase = ObjectPhase.after
        return startValue(value, byte)
    }

    /// Map frame (arbitrary keys, one value schema).
    mutating func advanceMap(_ byte: UInt8, isSpace: Bool) -> Bool {
        guard case let .map(value) = grammar.nodes[Int(top.node)] else { return false }
        switch top.phase {
        case ObjectPhase.open, ObjectPhase.comma:
            if isSpace { return space() }
            if byte == UInt8(ascii: "}") && top.phase == ObjectPhase.open { pop(); return true }
            guard byte == UInt8(ascii: "\"") else { return false }
            top.phase = ObjectPhase.colon
            push(Frame(kind: .string, phase: StringPhase.plain, node: JSONGrammar.anyNode))
            return true
        case ObjectPhase.colon, ObjectPhase.value:
            return advanceMember(byte, isSpace: isSpace, value: value)
        default:
            if isSpace { return space() }
            if byte == UInt8(ascii: "}") { pop(); return true }
            guard byte == UInt8(ascii: ",") else { return false }
            top.phase = ObjectPhase.comma
            return true
        }
    }

    /// Array frame: a = items so far, saturated where more no longer matter.
    mutating func advanceArray(_ byte: UInt8, isSpace: Bool) -> Bool {
        guard case let .array(item, minItems, maxItems) = grammar.nodes[Int(top.node)] else { return false }
        let count = Int(top.a)
        switch top.phase {
        case ObjectPhase.open, ObjectPhase.comma:
            if isSpace { return space() }
            if byte == UInt8(ascii: "]") && top.phase == ObjectPhase.open && minItems == 0 { pop(); return true }
            if top.phase == ObjectPhase.open, let maxItems, maxItems == 0 { return false }
            top.phase = ObjectPhase.after
            top.a = Int32(min(count + 1, max(minItems, maxItems ?? 0)))
            return startValue(item, byte)
        default:
            if isSpace { return space() }
            if byte == UInt8(ascii: "]") && count >= minItems { pop(); return true }
            guard byte == UInt8(ascii: ","), count < (maxItems ?? Int.max) else { return false }
            top.phase = ObjectPhase.comma
            return true
        }
    }
}

/// One value being written. Fields a, a2, b, c mean what each kind says.
struct Frame: Hashable, Sendable {
    enum Kind: UInt8, Sendable { case root, string, format, number, literal, object, map, array }
    var kind: Kind
    var phase: UInt8
    var node: JSONGrammar.NodeID
    var a: Int32 = 0
    var a2: Int32 = 0
    var b: Int32 = 0
    var c: Int32 = 0
}

/// An immutable link of the frame stack, shared by the states above it.
final class FrameLink: Sendable {
    let frame: Frame
    let below: FrameLink?
    /// Bytes this frame and those under it need to end, once the values above are done.
    let cost: Int

    init(frame: Frame, below: FrameLink?, cost: Int) {
        self.frame = frame
        self.below = below
        self.cost = cost
    }

    static func equal(_ a: FrameLink?, _ b: FrameLink?) -> Bool {
        var x = a, y = b
        while true {
            if x === y { return true }
            guard let l = x, let r = y, l.frame == r.frame else { return false }
            x = l.below
            y = r.below
        }
    }
}

enum StringPhase {
    static let plain: UInt8 = 0, escape: UInt8 = 1, hex: UInt8 = 2, continuation: UInt8 = 3
}

/// Phases of objects, maps and arrays (arrays use open, comma and after).
enum ObjectPhase {
    /// After `{`, after `,` (a key must follow), inside a key, before `:`,
    /// before the value, after the value.
    static let open: UInt8 = 0, comma: UInt8 = 1, key: UInt8 = 2, colon: UInt8 = 3, value: UInt8 = 4, after: UInt8 = 5
}

/// JSON's number grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
/// Integers stop after the integer part.
enum Number {
    static let start: UInt8 = 0, minus: UInt8 = 1, zero: UInt8 = 2, integer: UInt8 = 3, dot: UInt8 = 4,
               fraction: UInt8 = 5, e: UInt8 = 6, exponentSign: UInt8 = 7, exponent: UInt8 = 8

    static func isTerminal(_ phase: UInt8) -> Bool {
        phase == zero || phase == integer || phase == fraction || phase == exponent
    }

    /// The phase after `byte`, or nil if it cannot continue the number.
    static func next(_ phase: UInt8, _ byte: UInt8, integer isInteger: Bool) -> UInt8? {
        let isDigit = (0x30...0x39).contains(byte)
        switch phase {
        case start:
            if byte == UInt8(ascii: "-") { return minus }
            fallthrough
        case minus:
            return byte == UInt8(ascii: "0") ? zero : isDigit ? integer : nil
        case zero, integer:
            if phase == integer && isDigit { return integer }
            if isInteger { return nil }
            if byte == UInt8(ascii: ".") { return dot }
            return byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") ? e : nil
        case dot, fraction:
            if isDigit { return fraction }
            return phase == fraction && (byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")) ? e : nil
        case e:
            if byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") { return exponentSign }
            return isDigit ? exponent : nil
        default:  // exponent sign, exponent digits
            return isDigit ? exponent : nil
        }
    }
}
