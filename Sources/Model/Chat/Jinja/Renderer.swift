import Foundation

extension Jinja {
    /// Variables visible at one point: a `for` iteration or a macro call
    /// opens a scope whose assignments vanish with it, as in Jinja2.
    final class Scope {
        var variables: [String: Value] = [:]
        let parent: Scope?

        init(parent: Scope?) { self.parent = parent }

        func lookup(_ name: String) -> Value? { variables[name] ?? parent?.lookup(name) }
    }

    /// Runs a parsed template over a context, writing text whose segments
    /// know whether they are markup or message content.
    final class Renderer {
        enum Flow { case normal, breakLoop, continueLoop }

        let root: Scope
        var scope: Scope
        var output: [Text.Segment] = []
        var line = 0
        /// What `strftime_now` formats: one reading for the whole render.
        let now: Date

        init(context: [String: Value], now: Date) {
            self.now = now
            root = Scope(parent: nil)
            for name in Self.globalFunctions { root.variables[name] = .function(name) }
            for (k, v) in context { root.variables[k] = v }
            scope = root
        }

        func render(_ nodes: [Node]) throws(Error) -> Text {
            _ = try run(nodes)
            return Text(segments: output)
        }

        func run(_ nodes: [Node]) throws(Error) -> Flow {
            for node in nodes {
                let flow = try execute(node)
                if flow != .normal { return flow }
            }
            return .normal
        }

        private func execute(_ node: Node) throws(Error) -> Flow {
            switch node {
            case let .text(t):
                output.append(Text.Segment(text: t, message: nil))
            case let .output(e, at):
                line = at
                try located { () throws(Error) in output += try evaluate(e).printed.segments }
            case let .conditional(branches, otherwise, at):
                line = at
                for branch in branches {
                    if try located({ () throws(Error) in try evaluate(branch.condition).isTruthy }) { return try run(branch.body) }
                }
                return try run(otherwise)
            case let .loop(loop):
                line = loop.line
                try iterate(loop)
            case let .assign(target, e, at):
                line = at
                try located { () throws(Error) in try assign(target, try evaluate(e)) }
            case let .assignBlock(name, body, at):
                line = at
                scope.variables[name] = .string(try capture(body))
            case let .macro(definition, _):
                scope.variables[definition.name] = .macro(Macro(definition: definition))
            case .breakLoop: return .breakLoop
            case .continueLoop: return .continueLoop
            }
            return .normal
        }

        /// Errors without a line get the line of the statement being run.
        func located<T>(_ body: () throws(Error) -> T) throws(Error) -> T {
            do { return try body() } catch { throw error.at(line: line) }
        }

        /// The output of `nodes`, rendered apart.
        func capture(_ nodes: [Node]) throws(Error) -> Text {
            let saved = output
            output = []
            defer { output = saved }
            _ = try run(nodes)
            return Text(segments: output)
        }

        private func assign(_ target: AssignTarget, _ value: Value) throws(Error) {
            switch target {
            case let .names(names) where names.count == 1:
                scope.variables[names[0]] = value
            case let .names(names):
                let items = try unpack(value, into: names.count)
                for (n, v) in zip(names, items) { scope.variables[n] = v }
            case let .attribute(object, attribute):
                guard case let .namespace(ns)? = scope.lookup(object) else {
                    throw Error(.runtime, "cannot assign attribute on non-namespace object")
                }
                ns.attributes[attribute] = value
            }
        }

        func unpack(_ value: Value, into count: Int) throws(Error) -> [Value] {
            let items = try iterationItems(value)
            guard items.count == count else {
                throw Error(.runtime, "cannot unpack \(items.count) values into \(count) names")
            }
            return items
        }

        private func iterate(_ loop: Loop) throws(Error) {
            let all = try located { () throws(Error) in try iterationItems(try evaluate(loop.iterable)) }
            let outer = scope
            defer { scope = outer }
            var items: [Value] = []
            for item in all {
                scope = Scope(parent: outer)
                try located { () throws(Error) in try bind(loop.targets, item) }
                if let filter = loop.filter {
                    guard try located({ () throws(Error) in try evaluate(filter).isTruthy }) else { continue }
                }
                items.append(item)
            }
            scope = outer
            guard !items.isEmpty else {
                _ = try run(loop.otherwise)
                return
            }
            for (k, item) in items.enumerated() {
                scope = Scope(parent: outer)
                try located { () throws(Error) in try bind(loop.targets, item) }
                scope.variables["loop"] = Self.loopInfo(k, items)
                if try run(loop.body) == .breakLoop { break }
            }
        }

        private func bind(_ targets: [String], _ item: Value) throws(Error) {
            if targets.count == 1 { scope.variables[targets[0]] = item; return }
            for (n, v) in zip(targets, try unpack(item, into: targets.count)) { scope.variables[n] = v }
        }

        private static func loopInfo(_ k: Int, _ items: [Value]) -> Value {
            let n = items.count
            return .dict(Dict([
                ("index", .int(k + 1)), ("index0", .int(k)), ("revindex", .int(n - k)), ("revindex0", .int(n - k - 1)),
                ("first", .bool(k == 0)), ("last", .bool(k == n - 1)), ("length", .int(n)),
                ("previtem", k > 0 ? items[k - 1] : .undefined("there is no previous item")),
                ("nextitem", k < n - 1 ? items[k + 1] : .undefined("there is no next item")),
            ]))
        }

        /// What a `for` loop walks: a list's or a tuple's items, a dict's keys, a string's characters.
        func iterationItems(_ value: Value) throws(Error) -> [Value] {
            switch value {
            case .undefined: return []
            case let .list(items), let .tuple(items): return items
            case let .dict(d): return d.keys.map { .string($0) }
            case let .string(t): return t.scalars.map { .string(t.derived(String($0))) }
            default: throw Error(.runtime, "'\(value.typeName)' object is not iterable")
            }
        }
    }
}
