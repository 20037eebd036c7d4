import Foundation
@testable import Model

/// Writes GGUF bytes for tests, valid or deliberately broken.
struct GGUFBuilder {
    indirect enum Value {
        case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
        case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
        case array(typeID: UInt32, [Value])

        var typeID: UInt32 {
            switch self {
            case .uint8: return 0
            case .int8: return 1
            case .uint16: return 2
            case .int16: return 3
            case .uint32: return 4
            case .int32: return 5
            case .float32: return 6
            case .bool: return 7
            case .string: return 8
            case .array: return 9
            case .uint64: return 10
            case .int64: return 11
            case .float64: return 12
            }
        }
    }

    struct Tensor {
        var name: String
        var dims: [UInt64]
        var type: UInt32
        var data: [UInt8]
        /// Overrides the offset the builder would compute.
        var offset: UInt64? = nil
    }

    var magic: UInt32 = 0x4655_4747
    var version: UInt32 = 3
    var metadata: [(String, Value)] = []
    var tensors: [Tensor] = []
    var alignment = 32
    /// Overrides the counts written in the header.
    var tensorCountOverride: UInt64? = nil
    var metadataCountOverride: UInt64? = nil

    func build() -> [UInt8] {
        var out: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func putString(_ s: String) { put(UInt64(s.utf8.count)); out += Array(s.utf8) }
        func putValue(_ v: Value) {
            switch v {
            case let .uint8(x): put(x)
            case let .int8(x): put(x)
            case let .uint16(x): put(x)
            case let .int16(x): put(x)
            case let .uint32(x): put(x)
            case let .int32(x): put(x)
            case let .uint64(x): put(x)
            case let .int64(x): put(x)
            case let .float32(x): put(x.bitPattern)
            case let .float64(x): put(x.bitPattern)
            case let .bool(x): put(UInt8(x ? 1 : 0))
            case let .string(s): putString(s)
            case let .array(typeID, items):
                put(typeID); put(UInt64(items.count))
                for item in items { putValue(item) }
            }
        }
        put(magic); put(version)
        put(tensorCountOverride ?? UInt64(tensors.count))
        put(metadataCountOverride ?? UInt64(metadata.count))
        for (key, value) in metadata { putString(key); put(value.typeID); putValue(value) }
        var offsets: [UInt64] = []
        var next: UInt64 = 0
        for t in tensors {
            offsets.append(t.offset ?? next)
            next += UInt64((t.data.count + alignment - 1) / alignment * alignment)
        }
        for (t, offset) in zip(tensors, offsets) {
            putString(t.name); put(UInt32(t.dims.count))
            for d in t.dims { put(d) }
            put(t.type); put(offset)
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            out += t.data
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    /// Writes `bytes` to a fresh temporary file and returns its path.
    static func write(_ bytes: [UInt8]) throws -> String {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("kvserve-test-\(UUID().uuidString).gguf")
        try Data(bytes).write(to: url)
        return url.path
    }

    /// Parses `bytes` as a GGUF file (the mapping outlives the unlinked file).
    static func parse(_ bytes: [UInt8]) throws -> GGUFFile {
        let path = try write(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try GGUFFile(path: path)
    }
}
