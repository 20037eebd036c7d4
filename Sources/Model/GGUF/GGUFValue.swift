import Foundation

/// The value types a GGUF metadata entry can hold, with their on-disk ids.
public enum GGUFValueType: UInt32, Sendable, CustomStringConvertible {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5
    case float32 = 6, bool = 7, string = 8, array = 9
    case uint64 = 10, int64 = 11, float64 = 12

    /// Bytes per element for fixed-size types; nil for strings and arrays.
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The least number of bytes one element can occupy in the file; bounds
    /// array counts before any allocation.
    var minimumEncodedSize: Int {
        switch self {
        case .string: return 8      // u64 length
        case .array: return 12      // u32 type + u64 count
        default: return fixedSize!
        }
    }

    public var description: String {
        switch self {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .uint32: return "uint32"
        case .int32: return "int32"
        case .float32: return "float32"
        case .bool: return "bool"
        case .string: return "string"
        case .array: return "array"
        case .uint64: return "uint64"
        case .int64: return "int64"
        case .float64: return "float64"
        }
    }
}

/// One metadata value. Arrays stay views into the mapped file until read,
/// so a vocabulary of 150k strings costs offsets, not 150k String objects.
public enum GGUFValue: Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16)
    case uint32(UInt32), int32(Int32), uint64(UInt64), int64(Int64)
    case float32(Float), float64(Double), bool(Bool)
    case string(String)
    case array(GGUFArray)

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// Any integer type, widened; nil for non-integers.
    public var integer: Int64? {
        switch self {
        case let .uint8(v): return Int64(v)
        case let .int8(v): return Int64(v)
        case let .uint16(v): return Int64(v)
        case let .int16(v): return Int64(v)
        case let .uint32(v): return Int64(v)
        case let .int32(v): return Int64(v)
        case let .uint64(v): return Int64(exactly: v)
        case let .int64(v): return v
        default: return nil
        }
    }

    /// Any float or integer type as a Double.
    public var number: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return integer.map(Double.init)
        }
    }

    /// A short rendering for `kvserve inspect`; long arrays are summarised.
    public var summary: String {
        switch self {
        case let .string(s):
            let shown = s.count > 60 ? String(s.prefix(57)) + "..." : s
            return "\"" + shown.replacingOccurrences(of: "\n", with: "\\n") + "\""
        case let .array(a):
            return "[\(a.elementType) x \(a.count)]"
        case let .bool(b): return b ? "true" : "false"
        case let .float32(v): return "\(v)"
        case let .float64(v): return "\(v)"
        default: return integer.map { "\($0)" } ?? "?"
        }
    }
}

/// An array value: element type, count, and where its elements live.
public struct GGUFArray: @unchecked Sendable {
    public let elementType: GGUFValueType
    public let count: Int
    enum Storage {
        /// Fixed-size elements, contiguous in the mapped file.
        case fixed(UnsafeRawBufferPointer)
        /// Strings: the byte range of each one in the mapped file.
        case strings([Range<Int>])
        case arrays([GGUFArray])
    }
    let storage: Storage
    /// Keeps the mapping alive while any view into it exists.
    let file: MappedFile

    /// Integer elements widened to Int64 (nil if the elements are not integers).
    public func integers() -> [Int64]? {
        guard case let .fixed(raw) = storage else { return nil }
        switch elementType {
        case .uint8: return raw.map { Int64($0) }
        case .int8: return (0..<count).map { Int64(raw.loadUnaligned(fromByteOffset: $0, as: Int8.self)) }
        case .uint16: return (0..<count).map { Int64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }
        case .int16: return (0..<count).map { Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self))) }
        case .uint32: return (0..<count).map { Int64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        case .int32: return (0..<count).map { Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
        case .uint64: return (0..<count).map { Int64(truncatingIfNeeded: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
        case .int64: return (0..<count).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
        default: return nil
        }
    }

    /// Float elements (float32 or float64) as Float.
    public func floats() -> [Float]? {
        guard case let .fixed(raw) = storage else { return nil }
        switch elementType {
        case .float32: return (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        case .float64: return (0..<count).map { Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)))) }
        default: return nil
        }
    }

    /// String elements as their exact bytes (token texts need bytes: two
    /// distinct byte strings may be canonically equal as Swift Strings).
    public func byteStrings() -> [[UInt8]]? {
        guard case let .strings(ranges) = storage else { return nil }
        return ranges.map { Array(file.bytes[$0]) }
    }

    public func strings() -> [String]? {
        guard case let .strings(ranges) = storage else { return nil }
        return ranges.map { String(decoding: UnsafeRawBufferPointer(rebasing: file.bytes[$0]), as: UTF8.self) }
    }

    public func arrays() -> [GGUFArray]? {
        guard case let .arrays(items) = storage else { return nil }
        return items
    }
}
