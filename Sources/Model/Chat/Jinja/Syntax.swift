extension Jinja {
    enum Literal: Sendable, Equatable {
        case string(String), integer(Int), float(Double), bool(Bool), none
    }

    struct Arguments: Sendable {
        var positional: [Expression] = []
        var keyword: [(name: String, value: Expression)] = []
    }

    /// An expression, as Jinja2's parser groups it.
    indirect enum Expression: Sendable {
        case literal(Literal)
        case name(String)
        case list([Expression])
        case tuple([Expression])
        case dict([(key: Expression, value: Expression)])
        case attribute(Expression, String)
        case `subscript`(Expression, Expression)
        case slice(Expression, start: Expression?, stop: Expression?, step: Expression?)
        case call(Expression, Arguments)
        case filter(Expression, String, Arguments)
        case test(Expression, String, Arguments, negated: Bool)
        case negate(Expression)
        case plus(Expression)
        case not(Expression)
        case and(Expression, Expression)
        case or(Expression, Expression)
        /// `+ - * / // % ** ~`
        case binary(String, Expression, Expression)
        /// A chain `a < b == c`: each operator with its right operand.
        case compare(Expression, [(op: String, operand: Expression)])
        case conditional(then: Expression, condition: Expression, otherwise: Expression?)
    }

    enum AssignTarget: Sendable {
        case names([String])
        /// `set ns.attribute = ...` on a namespace() object.
        case attribute(String, String)
    }

    struct Branch: Sendable {
        let condition: Expression
        let body: [Node]
    }

    struct Loop: Sendable {
        let targets: [String]
        let iterable: Expression
        let filter: Expression?
        let body: [Node]
        let otherwise: [Node]
        let line: Int
    }

    struct MacroDefinition: Sendable {
        let name: String
        let parameters: [(name: String, defaultValue: Expression?)]
        let body: [Node]
    }

    indirect enum Node: Sendable {
        case text(String)
        case output(Expression, line: Int)
        case conditional([Branch], otherwise: [Node], line: Int)
        case loop(Loop)
        case assign(AssignTarget, Expression, line: Int)
        case assignBlock(String, [Node], line: Int)
        case macro(MacroDefinition, line: Int)
        case breakLoop(line: Int)
        case continueLoop(line: Int)
    }
}
