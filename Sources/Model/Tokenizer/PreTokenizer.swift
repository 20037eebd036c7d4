/// Splits text into the words that BPE runs on, as the `tokenizer.ggml.pre`
/// pattern of a model says. Each pattern is a hand-written scanner with the
/// semantics of the regular expression it names (leftmost alternative wins,
/// greedy runs), applied to the Unicode scalars of the text.
///
/// Stages compose: each one splits every piece the previous one produced, and
/// a piece boundary looks like the end of text to the next stage.
public struct PreTokenizer: Sendable {
    public enum Stage: Sendable, Equatable {
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
        case gpt2
        /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
        /// with the digit group limit given (3 for Llama 3, 1 for Qwen2).
        case llama3(digitGroup: Int)
        /// `\p{N}`: every number character on its own, the text between kept.
        case isolateDigits
    }

    public let name: String
    public let stages: [Stage]

    public init(name: String, stages: [Stage]) {
        self.name = name
        self.stages = stages
    }

    /// The pre-tokenizers kvserve knows, by `tokenizer.ggml.pre` name.
    public static func named(_ name: String) -> PreTokenizer? {
        switch name {
        case "gpt-2", "gpt2", "mpt", "olmo", "jais":
            return PreTokenizer(name: name, stages: [.gpt2])
        case "llama3", "llama-v3", "llama-bpe":
            return PreTokenizer(name: name, stages: [.llama3(digitGroup: 3)])
        case "qwen2", "stablelm2":
            return PreTokenizer(name: name, stages: [.llama3(digitGroup: 1)])
        case "starcoder", "smollm", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
            return PreTokenizer(name: name, stages: [.isolateDigits, .gpt2])
        default:
            return nil
        }
    }

    public static let supportedNames = ["gpt-2", "llama-bpe", "qwen2", "smollm", "starcoder"]

    /// The words of `scalars`, as consecutive ranges covering all of it.
    public func split(_ scalars: [UInt32]) -> [Range<Int>] {
        var pieces = scalars.isEmpty ? [] : [0..<scalars.count]
        let classes = scalars.map(CharacterClass.of)
        for stage in stages {
            var next: [Range<Int>] = []
            next.reserveCapacity(pieces.count * 2)
            for piece in pieces {
                var scanner = Scanner(scalars: scalars, classes: classes, bounds: piece)
                switch stage {
                case .gpt2: scanner.scanGPT2(into: &next)
                case let .llama3(group): scanner.scanLlama3(digitGroup: group, into: &next)
                case .isolateDigits: scanner.scanDigits(into: &next)
                }
            }
            pieces = next
        }
        return pieces
    }
}

/// One piece of text being split; reads past its bounds see nothing.
private struct Scanner {
    let scalars: [UInt32]
    let classes: [CharacterClass]
    let bounds: Range<Int>

    func cls(_ i: Int) -> CharacterClass { bounds.contains(i) ? classes[i] : [] }
    func scalar(_ i: Int) -> UInt32? { bounds.contains(i) ? scalars[i] : nil }

    static let apostrophe: UInt32 = 0x27, space: UInt32 = 0x20, cr: UInt32 = 0x0D, lf: UInt32 = 0x0A

    /// Length of `'s|'t|'re|'ve|'m|'ll|'d` at `i`, or 0.
    func contraction(at i: Int, ignoringCase: Bool) -> Int {
        guard scalar(i) == Self.apostrophe, let a = scalar(i + 1) else { return 0 }
        func lower(_ c: UInt32) -> UInt32 { ignoringCase && (0x41...0x5A).contains(c) ? c + 0x20 : c }
        let first = lower(a)
        if [0x73, 0x74, 0x6D, 0x64].contains(first) { return 2 }  // s t m d
        guard let b = scalar(i + 2) else { return 0 }
        let second = lower(b)
        switch (first, second) {
        case (0x72, 0x65), (0x76, 0x65), (0x6C, 0x6C): return 3  // re ve ll
        default: return 0
        }
    }

    /// `\s+(?!\S)|\s+` at `i`, where `count` whitespace characters start:
    /// leave the last one to prefix the word that follows, unless the piece ends.
    func whitespaceRunEnd(at i: Int, count: Int) -> Int {
        count > 1 && scalar(i + count) != nil ? i + count - 1 : i + count
    }

    func isOther(_ c: CharacterClass) -> Bool {
        c.contains(.present) && c.isDisjoint(with: [.whitespace, .letter, .number])
    }

    mutating func scanGPT2(into words: inout [Range<Int>]) {
        var i = bounds.lowerBound
        while i < bounds.upperBound {
            let start = i
            let n = contraction(at: i, ignoringCase: false)
            if n > 0 {
                words.append(i..<(i + n)); i += n; continue
            }
            // ` ?X+` for X in letters, numbers, others: an optional leading space.
            let lead = scalar(i) == Self.space ? i + 1 : i
            let c = cls(lead)
            let run: CharacterClass? =
                c.contains(.letter) ? .letter : c.contains(.number) ? .number : isOther(c) ? [] : nil
            if let run {
                i = lead
                while run.isEmpty ? isOther(cls(i)) : cls(i).contains(run) { i += 1 }
                words.append(start..<i); continue
            }
            var count = 0
            while cls(i + count).contains(.whitespace) { count += 1 }
            i = count > 0 ? whitespaceRunEnd(at: i, count: count) : i + 1
            words.append(start..<i)
        }
    }

    mutating func scanLlama3(digitGroup: Int, into words: inout [Range<Int>]) {
        var i = bounds.lowerBound
        while i < bounds.upperBound {
            let start = i
            let n = contraction(at: i, ignoringCase: true)
            if n > 0 {
                words.append(i..<(i + n)); i += n; continue
            }
            let c = cls(i), s = scalar(i)!
            // `[^\r\n\p{L}\p{N}]?\p{L}+`
            if s != Self.cr, s != Self.lf, !c.contains(.number),
               c.contains(.letter) || cls(i + 1).contains(.letter) {
                i += 1
                while cls(i).contains(.letter) { i += 1 }
                words.append(start..<i); continue
            }
            // `\p{N}{1,group}`
            if c.contains(.number) {
                var groupStart = i
                while cls(i).contains(.number) {
                    i += 1
                    if i - groupStart == digitGroup { words.append(groupStart..<i); groupStart = i }
                }
                if i > groupStart { words.append(groupStart..<i) }
                continue
            }
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            let lead = s == Self.space ? i + 1 : i
            if isOther(cls(lead)) || (lead > i && cls(lead).isEmpty) {
                i = lead
                while isOther(cls(i)) { i += 1 }
                while let t = scalar(i), t == Self.cr || t == Self.lf { i += 1 }
                words.append(start..<i); continue
            }
            // `\s*[\r\n]+`, then `\s+(?!\S)|\s+`
            var count = 0, afterLastNewline = -1
            while cls(i + count).contains(.whitespace) {
                if let t = scalar(i + count), t == Self.cr || t == Self.lf { afterLastNewline = i + count + 1 }
                count += 1
            }
            if afterLastNewline >= 0 { i = afterLastNewline }
            else if count > 0 { i = whitespaceRunEnd(at: i, count: count) }
            else { i += 1 }
            words.append(start..<i)
        }
    }

    mutating func scanDigits(into words: inout [Range<Int>]) {
        var runStart = bounds.lowerBound
        for i in bounds where classes[i].contains(.number) {
            if i > runStart { words.append(runStart..<i) }
            words.append(i..<(i + 1))
            runStart = i + 1
        }
        if runStart < bounds.upperBound { words.append(runStart..<bounds.upperBound) }
    }
}
