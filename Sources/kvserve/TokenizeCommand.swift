import ArgumentParser
import Foundation
import JSONTree
import Model

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids and pieces of a text."
    )

    @Option(help: "Path of the GGUF model file.")
    var model: String

    @Flag(help: "Let control tokens written in TEXT (such as <|im_start|>) become their ids.")
    var special = false

    @Flag(help: "Print one JSON object {\"ids\":[...],\"pieces\":[...]}.")
    var json = false

    @Argument(help: "The text to tokenize; '-' reads it from standard input.")
    var text: String

    func run() throws {
        let gguf = try GGUFFile(path: model)
        let tokenizer = try Tokenizer(gguf)
        let input: String
        if text == "-" {
            input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            input = text
        }
        let ids = tokenizer.encode(input, parseSpecial: special)
        let pieces = ids.map { String(decoding: tokenizer.piece($0), as: UTF8.self) }
        if json {
            let object: JSON = ["ids": .array(ids.map { JSON($0) }), "pieces": .array(pieces.map { JSON($0) })]
            print(object.serialized)
        } else {
            let width = String(ids.max() ?? 0).count
            for (id, piece) in zip(ids, pieces) {
                let number = String(id)
                print(String(repeating: " ", count: width - number.count) + number + " -> '" + escaped(piece) + "'")
            }
        }
    }
}

/// Control characters made visible, so whitespace tokens can be read.
func escaped(_ s: String) -> String {
    var out = ""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\\": out += "\\\\"
        case "'": out += "\\'"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += String(format: "\\x%02x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}
