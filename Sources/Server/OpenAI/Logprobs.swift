import Engine
import Foundation
import JSONTree
import Model

/// Log-probabilities as OpenAI writes them: a token as its text and bytes
/// (a byte-level token may be part of a character, so the bytes are what
/// concatenates exactly).
struct LogprobWriter {
    let tokenizer: Tokenizer

    func bytes(_ id: TokenID) -> [UInt8] { tokenizer.piece(id, special: false) }
    func text(_ id: TokenID) -> String { String(decoding: bytes(id), as: UTF8.self) }

    /// One entry of chat's `logprobs.content`.
    func chatEntry(_ id: TokenID, _ logprobs: TokenLogprobs) -> JSON {
        ["token": JSON(text(id)), "logprob": JSON(logprobs.logprob), "bytes": .array(bytes(id).map { JSON($0) }),
         "top_logprobs": .array(logprobs.top.map {
             ["token": JSON(text($0.token)), "logprob": JSON($0.logprob), "bytes": .array(bytes($0.token).map { JSON($0) })]
         })]
    }

    /// Completions' `logprobs` for a run of tokens whose text starts at `offset`.
    func completionLogprobs(_ tokens: [(TokenID, TokenLogprobs)], offset: Int) -> JSON {
        var offsets: [Int] = [], at = offset
        for (id, _) in tokens {
            offsets.append(at)
            at += text(id).utf8.count
        }
        return ["tokens": .array(tokens.map { JSON(text($0.0)) }),
                "token_logprobs": .array(tokens.map { JSON($0.1.logprob) }),
                // One entry per distinct text (two tokens may spell the same), the likelier first.
                "top_logprobs": .array(tokens.map { _, lp in
                    var seen = Set<String>()
                    return .object(lp.top.compactMap { seen.insert(text($0.token)).inserted ? (text($0.token), JSON($0.logprob)) : nil })
                }),
                "text_offset": .array(offsets.map { JSON($0) })]
    }
}

/// Ids for OpenAI's objects: a prefix and 24 random hex digits.
enum OpenAIID {
    static func make(_ prefix: String) -> String {
        prefix + (0..<3).map { _ in String(format: "%016llx", UInt64.random(in: .min ... .max)) }.joined().prefix(24)
    }
    static var now: Int { Int(Date().timeIntervalSince1970) }
}
