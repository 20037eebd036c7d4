extension Tokenizer {
    /// A rendered chat prompt's ids with BOS where the model asks for it,
    /// once: when the tokenizer adds BOS itself, a template that writes
    /// `{{ bos_token }}` at its start does not give a second one.
    public func encode(chatPrompt prompt: PromptText) -> [TokenID] {
        guard vocabulary.addBOS, let bos = vocabulary.bos else { return encode(prompt, addSpecial: true) }
        return encode(prompt.droppingLeadingMarkup(String(decoding: vocabulary.text(of: bos), as: UTF8.self)), addSpecial: true)
    }
}
