import Model
import Testing
@testable import Server

/// A reply's reasoning and answer as a client reads them, however the text
/// is cut into tokens: hand-worked cases, each fed whole, character by
/// character, and cut at every position.
struct ReasoningSplitterTests {
    static func split(_ pieces: [String], startsInside: Bool = false,
                      markers: ReasoningMarkers = .think) -> (reasoning: String, content: String, streamed: (String, String)) {
        var s = ReasoningSplitter(markers: markers, startsInside: startsInside)
        var streamed = ("", "")
        for piece in pieces {
            let (r, c) = s.feed(piece)
            streamed.0 += r
            streamed.1 += c
        }
        let (r, c) = s.finish()
        streamed.0 += r
        streamed.1 += c
        return (s.reasoning, s.content, streamed)
    }

    static func everyCut(_ text: String, startsInside: Bool = false) -> [[String]] {
        var cuts = [[text], text.map { String($0) }]
        for i in 1..<text.count { cuts.append([String(text.prefix(i)), String(text.dropFirst(i))]) }
        return cuts
    }

    @Test(arguments: [
        // (reply, starts inside, reasoning, answer)
        ("<think>\nPlan it.\n</think>\n\nParis.", false, "Plan it.", "Paris."),
        ("  <think>a\nb</think>c", false, "a\nb", "c"),
        ("Plan it.\n</think>\n\nParis.", true, "Plan it.", "Paris."),
        ("Hello <think>x</think>", false, "", "Hello <think>x</think>"),
        ("<think>\nunfinished\n\n", false, "unfinished", ""),
        ("<thin", false, "", "<thin"),
        ("<think></think>\n\nAnswer </think> too", false, "", "Answer </think> too"),
        ("\n\n", false, "", "\n\n"),
    ])
    func splitsAsTheTemplatesDo(_ reply: String, _ inside: Bool, _ reasoning: String, _ answer: String) {
        for cut in Self.everyCut(reply, startsInside: inside) {
            let r = Self.split(cut, startsInside: inside)
            #expect(r.reasoning == reasoning && r.content == answer, "\(cut)")
            #expect(r.streamed.0 == reasoning && r.streamed.1 == answer, "streamed \(cut)")
        }
        #expect(ReasoningSplitter.answer(of: reply, markers: .think, startsInside: inside) == answer)
    }

    @Test(arguments: [
        ("<|channel|>analysis<|message|>Plan.<|end|><|start|>assistant<|channel|>final<|message|>Paris.", "Plan.", "Paris."),
        ("<|channel|>analysis<|message|>Plan.<|end|>Paris.", "Plan.", "Paris."),
        ("<|channel|>final<|message|>Paris.", "", "<|channel|>final<|message|>Paris."),
    ])
    func gptOssAnalysisChannel(_ reply: String, _ reasoning: String, _ answer: String) {
        for cut in Self.everyCut(reply) {
            let r = Self.split(cut, markers: .analysisChannel)
            #expect(r.reasoning == reasoning && r.content == answer && r.streamed == (reasoning, answer), "\(cut)")
        }
    }

    @Test func countsTheTokensOfTheBlock() {
        var s = ReasoningSplitter(markers: .think, startsInside: false)
        for token in ["<th", "ink>", "\nplan", "</think>", "\n\nAn", "swer"] { _ = s.feed(token) }
        #expect(s.reasoningTokens == 4 && s.hadBlock)
        var none = ReasoningSplitter(markers: .think, startsInside: false)
        for token in ["  ", "An", "swer"] { _ = none.feed(token) }
        #expect(none.reasoningTokens == 0 && !none.hadBlock)
    }

    @Test func aGenerationPromptThatOpensABlock() {
        let open = PromptText([.content("Q", message: 0), .markup("<|im_end|>\n<|im_start|>assistant\n<think>\n")])
        let closed = PromptText([.content("Q", message: 0), .markup("<|im_start|>assistant\n<think>\n\n</think>\n\n")])
        let inContent = PromptText([.content("<think>", message: 0), .markup("<|im_start|>assistant\n")])
        #expect(ReasoningMarkers.think.opensBlock(open) && !ReasoningMarkers.think.opensBlock(closed)
                && !ReasoningMarkers.think.opensBlock(inContent))
    }
}
