import ArgumentParser
import Engine
import Foundation
import JSONTree
import Model

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text from a prompt, streaming it to stdout."
    )

    @Option(help: "Path of the GGUF model file.")
    var model: String

    @Option(help: "The prompt text.")
    var prompt: String

    @Flag(help: "Render the prompt as one user message through the model's chat template.")
    var chat = false

    @Option(help: "Tokens to generate at most.")
    var maxTokens = 128

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0.8

    @Option(help: "Seed for reproducible sampling.")
    var seed: UInt64?

    @Flag(help: "Recompute the whole sequence at every step instead of caching keys and values (for comparison).")
    var noCache = false

    @Flag(help: "Print one JSON object at the end instead of streaming.")
    var json = false

    @Flag(help: "Multiply with exact float activations instead of 8-bit ones (slower; the reference numerics).")
    var exact = false

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be 0 or more") }
    }

    func run() throws {
        let file = try ModelFile(path: model)
        let llama = try DecoderModel(file: file, activations: exact ? .float : .int8)
        let tokenizer = file.tokenizer
        let endOfGeneration = file.endOfGeneration
        let promptIDs = chat
            ? tokenizer.encode(chatPrompt: try file.requiredChatTemplate.prompt([ChatMessage(role: "user", content: prompt)],
                                                                                 addGenerationPrompt: true))
            : tokenizer.encode(prompt, addSpecial: true)
        guard !promptIDs.isEmpty else { throw ValidationError("the prompt has no tokens") }
        let context = file.hyperparameters.contextLength
        guard promptIDs.count + maxTokens <= context else {
            throw ValidationError("prompt (\(promptIDs.count) tokens) plus --max-tokens exceeds the context of \(context)")
        }

        var parameters = SamplingParameters()
        parameters.temperature = temperature
        parameters.seed = seed
        var sampler = Sampler(parameters)
        let blockSize = 16
        let blocks = (promptIDs.count + maxTokens + blockSize - 1) / blockSize
        let cache = KVArena(hyperparameters: file.hyperparameters, elementType: .f16, blockSize: blockSize, blockCount: blocks)
        let table = (0..<blocks).map { Int32($0) }

        var detokenizer = IncrementalDetokenizer(tokenizer: tokenizer)
        var completion: [TokenID] = []
        var finishReason = "length"
        let start = DispatchTime.now()
        var logits = llama.forward([ForwardSequence(tokens: promptIDs, startPosition: 0, blockTable: table)], cache: cache)[0]!
        let prefilled = DispatchTime.now()
        while completion.count < maxTokens {
            let next = sampler.sample(logits, history: Array((promptIDs + completion).suffix(DecodeEngine.penaltyWindow)))
            if endOfGeneration.contains(next) { finishReason = "stop"; break }
            completion.append(next)
            if !json { FileHandle.standardOutput.write(Data(detokenizer.append(next).utf8)) }
            if completion.count == maxTokens { break }
            let step = noCache
                ? ForwardSequence(tokens: promptIDs + completion, startPosition: 0, blockTable: table)
                : ForwardSequence(tokens: [next], startPosition: promptIDs.count + completion.count - 1, blockTable: table)
            logits = llama.forward([step], cache: cache)[0]!
        }
        let end = DispatchTime.now()
        let prefillSeconds = Double(prefilled.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        let decodeSeconds = Double(end.uptimeNanoseconds - prefilled.uptimeNanoseconds) / 1e9
        let prefillRate = Double(promptIDs.count) / prefillSeconds
        let decodeRate = completion.count > 1 ? Double(completion.count - 1) / decodeSeconds : 0
        if json {
            let object: JSON = [
                "prompt_ids": .array(promptIDs.map { JSON($0) }), "completion_ids": .array(completion.map { JSON($0) }),
                "text": JSON(tokenizer.decode(completion, special: false)), "finish_reason": JSON(finishReason),
                "prefill_tokens_per_s": JSON(prefillRate), "decode_tokens_per_s": JSON(decodeRate),
            ]
            print(object.serialized)
        } else {
            FileHandle.standardOutput.write(Data((detokenizer.finish() + "\n").utf8))
        }
        FileHandle.standardError.write(Data(String(
            format: "prompt tokens %d, prefill %.1f tokens/s, decode %.1f tokens/s (%d generated, %@)\n",
            promptIDs.count, prefillRate, decodeRate, completion.count, finishReason).utf8))
    }
}
