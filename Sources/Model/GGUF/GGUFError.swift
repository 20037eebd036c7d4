/// Everything that can be wrong with a GGUF file or with what a caller asks of it.
/// Each case carries enough to name the offending key, tensor or byte offset.
public enum GGUFError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case badMagic(found: UInt32)
    case unsupportedVersion(UInt32)
    case truncated(what: String, offset: Int, needed: Int, available: Int)
    case absurdCount(what: String, count: UInt64, offset: Int)
    case unknownValueType(key: String, type: UInt32)
    case duplicateKey(String)
    case badAlignment(UInt64)
    case badTensor(name: String, reason: String)
    case duplicateTensor(String)
    case unknownTensorType(name: String, type: UInt32)
    case unsupportedTensorType(name: String, type: String)
    case missingKey(String)
    case wrongKeyType(key: String, expected: String, found: String)
    case valueOutOfRange(key: String, reason: String)
    case missingTensor(String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "cannot open '\(path)': \(reason)"
        case let .badMagic(found):
            return "not a GGUF file: magic is 0x\(String(found, radix: 16)), expected 0x46554747 ('GGUF')"
        case let .unsupportedVersion(v):
            return "unsupported GGUF version \(v) (this reader supports versions 2 and 3)"
        case let .truncated(what, offset, needed, available):
            return "file truncated: \(what) at byte \(offset) needs \(needed) bytes, \(available) remain"
        case let .absurdCount(what, count, offset):
            return "implausible \(what) \(count) at byte \(offset): larger than the rest of the file could hold"
        case let .unknownValueType(key, type):
            return "metadata key '\(key)' has unknown value type \(type)"
        case let .duplicateKey(key):
            return "metadata key '\(key)' appears twice"
        case let .badAlignment(a):
            return "general.alignment \(a) is not a power of two between 1 and 2^30"
        case let .badTensor(name, reason):
            return "tensor '\(name)': \(reason)"
        case let .duplicateTensor(name):
            return "tensor '\(name)' appears twice"
        case let .unknownTensorType(name, type):
            return "tensor '\(name)' has unknown ggml type id \(type)"
        case let .unsupportedTensorType(name, type):
            let supported = TensorType.computable.sorted { $0.id < $1.id }.map(\.name).joined(separator: ", ")
            return "tensor '\(name)' has type \(type), which kvserve cannot compute with (supported: \(supported))"
        case let .missingKey(key):
            return "required metadata key '\(key)' is missing"
        case let .wrongKeyType(key, expected, found):
            return "metadata key '\(key)' should be \(expected) but is \(found)"
        case let .valueOutOfRange(key, reason):
            return "metadata key '\(key)': \(reason)"
        case let .missingTensor(name):
            return "required tensor '\(name)' is missing"
        }
    }
}
