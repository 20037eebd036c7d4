// Built with -DFUZZING (scripts/fuzz-parser), this target has no main of its
// own: libFuzzer's runs fuzzOneInput. Built normally, main replays the inputs
// named on the command line, so `swift build` links it without libFuzzer.
#if !FUZZING
import Foundation

@main
enum HTTPParserFuzz {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("cannot read \(path)")
                exit(1)
            }
            _ = data.withUnsafeBytes { fuzzOneInput($0.bindMemory(to: UInt8.self).baseAddress, $0.count) }
            print("ok \(path)")
        }
    }
}
#endif
