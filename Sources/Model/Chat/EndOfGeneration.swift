extension Tokenizer {
    /// The tokens that end a reply: the vocabulary's end of sequence, turn
    /// and message, and the token the chat template closes a turn with. A
    /// template may close turns with a token the file does not call EOS
    /// (Llama-3's `<|eot_id|>`), and a reply that ran past it would go on
    /// to write the user's next turn.
    public func endOfGeneration(_ template: ChatTemplate?) -> Set<TokenID> {
        var ids = Set([vocabulary.eos, vocabulary.endOfTurn, vocabulary.endOfMessage].compactMap { $0 })
        if let closer = endOfTurn(of: template) { ids.insert(closer) }
        return ids
    }

    /// The template's end of turn as a token, when it is exactly one.
    public func endOfTurn(of template: ChatTemplate?) -> TokenID? {
        guard let text = template?.endOfTurn, !text.isEmpty else { return nil }
        let ids = encode(text, parseSpecial: true)
        return ids.count == 1 ? ids[0] : nil
    }
}
