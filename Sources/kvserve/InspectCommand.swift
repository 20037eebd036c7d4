import ArgumentParser
import Foundation
import Model

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a GGUF model: architecture, shape, tensors, tokenizer, chat template."
    )

    @Option(help: "Path of the GGUF model file.")
    var model: String

    func run() throws {
        let gguf = try GGUFFile(path: model)
        print("file:           \(model) (\(formatBytes(gguf.file.bytes.count)))")
        print("format:         GGUF v\(gguf.version), \(gguf.metadata.count) metadata keys, \(gguf.tensors.count) tensors, alignment \(gguf.alignment)")
        if case let .string(name)? = gguf.value("general.name") { print("name:           \(name)") }
        print("architecture:   \((try? gguf.string("general.architecture")) ?? "(missing)")")
        do {
            let h = try ModelHyperparameters(gguf)
            print("layers:         \(h.blockCount)")
            print("width:          \(h.embeddingLength)")
            print("heads:          \(h.headCount) (head dimension \(h.headDimension))")
            print("KV heads:       \(h.headCountKV)")
            print("FFN width:      \(h.feedForwardLength)")
            print("context:        \(h.contextLength)")
            print("RoPE:           base \(h.ropeFreqBase), \(h.ropeDimensionCount) dimensions")
            print("RMSNorm eps:    \(h.rmsNormEpsilon)")
            if let v = h.vocabSize { print("vocab size:     \(v)") }
        } catch {
            print("hyperparameters: unusable: \(error)")
        }
        let parameters = gguf.parameterCount
        print("parameters:     \(parameters) (\(String(format: "%.1f", Double(parameters) / 1e6))M)")
        print("tensor types:   " + gguf.tensorTypeCounts.map { "\($0.type) \($0.count)" }.joined(separator: ", "))
        do {
            let tokenizer = try Tokenizer(gguf)
            let v = tokenizer.vocabulary
            print("tokenizer:      \(tokenizer.kindDescription), \(v.count) tokens")
            if tokenizer.droppedMerges > 0 {
                print("                \(tokenizer.droppedMerges) merges name pieces that are not tokens and are ignored")
            }
            func describe(_ label: String, _ id: TokenID?) -> String? {
                id.map { "\(label) \($0) '\(escaped(String(decoding: v.text(of: $0), as: UTF8.self)))'" }
            }
            let specials = [describe("BOS", v.bos), describe("EOS", v.eos), describe("UNK", v.unknown), describe("PAD", v.padding)]
                .compactMap { $0 }
            print("special tokens: " + specials.joined(separator: ", "))
            print("                add BOS \(v.addBOS), add EOS \(v.addEOS), \(v.kinds.filter { $0 == .control }.count) control tokens")
        } catch {
            print("tokenizer:      unusable: \(error)")
        }
        do {
            let template = try ModelFile.chatTemplate(gguf, try Tokenizer(gguf).vocabulary, nil)
            print("chat template:  \(template?.kindDescription ?? "none (chat requests need the chat_template setting)")")
        } catch {
            print("chat template:  \(error)")
        }
    }
}

func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB"]
    var value = Double(n), unit = 0
    while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
}
