import Model

/// Multi-turn chats for tests and benchmarks: each session opens with a
/// system prompt and a question, then asks follow-ups, in ChatML.
public enum ChatWorkload {
    static let topics = ["the moon", "bread", "rivers", "chess", "volcanoes", "bees", "trains", "music",
                         "glaciers", "owls", "bridges", "tea", "comets", "maps", "forests", "clocks"]
    static let followUps = ["Why is that?", "Give me one example.", "Say it in one sentence.", "What else?"]

    /// `sessions` conversations (at most 16) of `turns` turns (at most 5):
    /// `result[s][t]` is the prompt of turn t of session s.
    public static func turns(sessions: Int, turns: Int, file: ModelFile) throws -> [[[TokenID]]] {
        precondition(sessions <= topics.count && turns >= 1 && turns <= followUps.count + 1)
        let template = try file.requiredChatTemplate
        return try topics.prefix(sessions).map { topic in
            let opening = try template.render([
                ChatMessage(role: "system", content: "You are a helpful assistant who answers briefly."),
                ChatMessage(role: "user", content: "Tell me about \(topic)."),
            ], addGenerationPrompt: true)
            return [file.tokenizer.encode(opening, addSpecial: true, parseSpecial: true)]
                + followUps.prefix(turns - 1).map { followUp($0, file: file) }
        }
    }

    /// A later user turn, following the assistant's reply.
    public static func followUp(_ text: String, file: ModelFile) -> [TokenID] {
        file.tokenizer.encode("\n<|im_start|>user\n\(text)<|im_end|>\n<|im_start|>assistant\n", addSpecial: false, parseSpecial: true)
    }
}
