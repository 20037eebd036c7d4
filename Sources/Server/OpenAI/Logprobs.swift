import Engine
import Foundation
import Model

/// Log-probabilities as OpenAI writes them: a token as its text and bytes
/// (a byte-level token may be part of a character, so the bytes are what
/// concatenates exactly).
struct LogprobWriter {
    let tokenizer: Tokenizer

    func bytes(_ id: TokenID) -> [UInt8] { tokenizer.piece(id, special: false) }
    func text(_ id: TokenID) -> String { String(decoding: bytes(id), as: UTF8.self) }

    /// One entry of chat's `logprobs.content`.
    func chatEntry(_ id: TokenID, _ logprobs: TokenLogprobs) -> [String: Any] {
        ["token": text(id), "logprob": Double(logprobs.logprob), "bytes": bytes(id).map(Int.init),
         "top_logprobs": logprobs.top.map { ["token": text($0.token), "logprob": Double($0.logprob), "bytes": bytes($0.token).map(Int.init)] }]
    }

    /// Completions' `logprobs` for a run of tokens whose text starts at `offset`.
    func completionLogprobs(_ tokens: [(TokenID, TokenLogprobs)], offset: Int) -> [String: Any] {
        var offsets: [Int] = [], at = offset
        for (id, _) in tokens {
            offsets.append(at)
            at += text(id).utf8.count
        }
        return ["tokens": tokens.map { text($0.0) },
                "token_logprobs": tokens.map { Double($0.1.logprob) },
                "top_logprobs": tokens.map { _, lp in
                    Dictionary(lp.top.map { (text($0.token), Double($0.logprob)) }, uniquingKeysWith: { a, _ in a })
                },
                "text_offset": offsets]
    }
}

/// Ids for OpenAI's objects: a prefix and 24 random hex digits.
enum OpenAIID {
    static func make(_ prefix: String) -> String {
        prefix + (0..<3).map { _ in String(format: "%016llx", UInt64.random(in: .min ... .max)) }.joined().prefix(24)
    }
    static var now: Int { Int(Date().timeIntervalSince1970) }
}
