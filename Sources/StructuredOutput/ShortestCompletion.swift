/// The fewest bytes that take a state to an accepting one: what budget
/// steering compares with the tokens left. Each frame adds the bytes it
/// needs to end from its phase; frames below the top are already in their
/// after-value phase, so the sum over the stack is the whole distance (the
/// part below the top is summed once, when it is pushed).
extension GrammarState {
    public var bytesToAccept: Int { cost(of: top) + (below?.cost ?? 0) }

    func cost(of f: Frame) -> Int {
        let g = grammar
        switch f.kind {
        case .root:
            return f.phase == 0 ? g.minimumBytes[Int(f.node)] : 0
        case .string:
            switch f.phase {
            case StringPhase.plain: return 1
            case StringPhase.escape: return 2
            default: return Int(f.a) + 1  // hex digits or continuation bytes left, then the quote
            }
        case .format:
            return StringFormat.all[Int(f.a)].length - Int(f.b)
        case .number:
            return Number.isTerminal(f.phase) ? 0 : 1
        case .literal:
            let set = g.literalSets[Int(f.a)]
            return (Int(f.a2)..<Int(f.c)).map { set[$0].count }.min()! - Int(f.b)
        case .object:
            let shape = g.objects[g.objectIndex(f.node)]
            switch f.phase {
            case ObjectPhase.open:
                return min(shape.mayClose(next: Int(f.c)) ? 1 : JSONGrammar.unreachable, shape.propertyCost[Int(f.c)])
            case ObjectPhase.comma:
                return shape.propertyCost[Int(f.c)]
            case ObjectPhase.key:
                let offset = Int(f.b), current = shape.keys[Int(f.a2)]
                var best = JSONGrammar.unreachable
                for k in shape.candidates(next: Int(f.c))! where shape.keys[k].count >= offset
                    && shape.keys[k][..<offset].elementsEqual(current[..<offset]) {
                    best = min(best, shape.keys[k].count - offset + 1 + g.minimumBytes[Int(shape.values[k])] + shape.afterValueCost[k])
                }
                return best
            case ObjectPhase.colon:
                return 1 + g.minimumBytes[Int(shape.values[Int(f.a)])] + shape.afterValueCost[Int(f.a)]
            case ObjectPhase.value:
                return g.minimumBytes[Int(shape.values[Int(f.a)])] + shape.afterValueCost[Int(f.a)]
            default:
                return shape.afterValueCost[Int(f.a)]
            }
        case .map:
            guard case let .map(value) = g.nodes[Int(f.node)] else { return 0 }
            let v = g.minimumBytes[Int(value)]
            switch f.phase {
            case ObjectPhase.open, ObjectPhase.after: return 1
            case ObjectPhase.comma: return 2 + 1 + v + 1
            case ObjectPhase.colon: return 1 + v + 1  // also while the key string is on top
            default: return v + 1
            }
        case .array:
            guard case let .array(item, minItems, _) = g.nodes[Int(f.node)] else { return 0 }
            let m = g.minimumBytes[Int(item)]
            func closing(after count: Int) -> Int {
                let need = max(0, minItems - count)
                return need == 0 ? 1 : need * (m + 1) + 1
            }
            switch f.phase {
            case ObjectPhase.open: return minItems == 0 ? 1 : minItems * m + minItems - 1 + 1
            case ObjectPhase.comma: return m + closing(after: Int(f.a) + 1)
            default: return closing(after: Int(f.a))
            }
        }
    }
}
