/// A parsed GGUF file (versions 2 and 3): metadata, tensor directory and the
/// mapped data section. Parsing validates every count, length and extent
/// against the file size, so a malformed file is an error, never a crash
/// or an allocation the file could not back.
///
/// Layout: "GGUF" u32 version, u64 tensor count, u64 metadata count; the
/// metadata entries (string key, u32 type, value); the tensor infos (string
/// name, u32 dims, u64 extents ne0 first, u32 ggml type, u64 offset); padding
/// to `general.alignment` (default 32); the data section, where every tensor
/// offset is relative and aligned.
public final class GGUFFile: @unchecked Sendable {
    public static let magic: UInt32 = 0x4655_4747  // "GGUF" read little-endian
    public static let defaultAlignment = 32
    /// ggml tensors have at most four dimensions.
    public static let maxDimensions = 4

    public let file: MappedFile
    public let version: UInt32
    /// Metadata in file order.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensors in file order.
    public let tensors: [GGUFTensor]
    private let tensorIndex: [String: Int]
    public let alignment: Int
    /// Byte offset of the data section in the file.
    public let dataOffset: Int

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        var cursor = ByteCursor(file.bytes)
        let magic = try cursor.read(UInt32.self, "magic")
        guard magic == Self.magic else { throw GGUFError.badMagic(found: magic) }
        version = try cursor.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(version) }
        let tensorCount = try cursor.read(UInt64.self, "tensor count")
        let metadataCount = try cursor.read(UInt64.self, "metadata count")
        let tensorCountOffset = 8, metadataCountOffset = 16
        // A metadata entry is at least a key length, a type and one byte; a
        // tensor info at least a name length, n_dims, a type and an offset.
        try cursor.checkCount(metadataCount, minimumSize: 8 + 4 + 1, what: "metadata count", countOffset: metadataCountOffset)

        var keys: [String] = []
        var values: [String: GGUFValue] = [:]
        for index in 0..<Int(metadataCount) {
            let key = try cursor.readString("key of metadata entry \(index)")
            let rawType = try cursor.read(UInt32.self, "type of '\(key)'")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw GGUFError.unknownValueType(key: key, type: rawType)
            }
            let value = try Self.readValue(type, key: key, cursor: &cursor, file: file, depth: 0)
            guard values.updateValue(value, forKey: key) == nil else { throw GGUFError.duplicateKey(key) }
            keys.append(key)
        }
        metadataKeys = keys
        metadata = values

        var alignment = Self.defaultAlignment
        if let value = values["general.alignment"] {
            guard let a = value.integer, a > 0, a <= 1 << 30, a & (a - 1) == 0 else {
                throw GGUFError.badAlignment(UInt64(bitPattern: value.integer ?? 0))
            }
            alignment = Int(a)
        }
        self.alignment = alignment

        try cursor.checkCount(tensorCount, minimumSize: 8 + 4 + 4 + 8, what: "tensor count", countOffset: tensorCountOffset)
        var infos: [(name: String, dims: [Int], type: TensorType, offset: Int)] = []
        infos.reserveCapacity(Int(tensorCount))
        for index in 0..<Int(tensorCount) {
            let name = try cursor.readString("name of tensor \(index)")
            let dimCount = try cursor.read(UInt32.self, "dimension count of '\(name)'")
            guard dimCount >= 1, dimCount <= UInt32(Self.maxDimensions) else {
                throw GGUFError.badTensor(name: name, reason: "\(dimCount) dimensions (1 to \(Self.maxDimensions) allowed)")
            }
            var dims: [Int] = []
            for d in 0..<Int(dimCount) {
                let extent = try cursor.read(UInt64.self, "extent \(d) of '\(name)'")
                guard extent >= 1, extent <= UInt64(Int32.max) else {
                    throw GGUFError.badTensor(name: name, reason: "extent \(extent) in dimension \(d)")
                }
                dims.append(Int(extent))
            }
            let rawType = try cursor.read(UInt32.self, "type of '\(name)'")
            guard let type = TensorType.known[rawType] else {
                throw GGUFError.unknownTensorType(name: name, type: rawType)
            }
            let offset = try cursor.read(UInt64.self, "offset of '\(name)'")
            guard offset <= UInt64(file.bytes.count) else {
                throw GGUFError.badTensor(name: name, reason: "data offset \(offset) is past the end of the file")
            }
            infos.append((name, dims, type, Int(offset)))
        }

        let padded = (cursor.offset + alignment - 1) / alignment * alignment
        dataOffset = min(padded, file.bytes.count)
        let dataBytes = file.bytes.count - dataOffset

        var tensors: [GGUFTensor] = []
        var index: [String: Int] = [:]
        for info in infos {
            let (count, overflow) = info.dims.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow, count <= 1 << 40 else {
                throw GGUFError.badTensor(name: info.name, reason: "element count overflows")
            }
            guard info.dims[0] % info.type.blockLength == 0 else {
                throw GGUFError.badTensor(name: info.name, reason: "row length \(info.dims[0]) is not a multiple of the \(info.type) block length \(info.type.blockLength)")
            }
            guard info.offset % alignment == 0 else {
                throw GGUFError.badTensor(name: info.name, reason: "data offset \(info.offset) is not a multiple of the alignment \(alignment)")
            }
            let byteCount = count / info.type.blockLength * info.type.blockBytes
            guard info.offset <= dataBytes, byteCount <= dataBytes - info.offset else {
                throw GGUFError.badTensor(name: info.name, reason: "data \(info.offset)..<\(info.offset + byteCount) lies past the end of the data section (\(dataBytes) bytes)")
            }
            guard index.updateValue(tensors.count, forKey: info.name) == nil else {
                throw GGUFError.duplicateTensor(info.name)
            }
            let start = dataOffset + info.offset
            tensors.append(GGUFTensor(
                name: info.name, shape: info.dims, type: info.type,
                data: UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + byteCount)]),
                file: file))
        }
        self.tensors = tensors
        tensorIndex = index
    }

    /// Nested arrays deeper than this are refused: real files use one level.
    static let maxArrayDepth = 8

    private static func readValue(
        _ type: GGUFValueType, key: String, cursor: inout ByteCursor, file: MappedFile, depth: Int
    ) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try cursor.read(UInt8.self, "value of '\(key)'"))
        case .int8: return .int8(try cursor.read(Int8.self, "value of '\(key)'"))
        case .uint16: return .uint16(try cursor.read(UInt16.self, "value of '\(key)'"))
        case .int16: return .int16(try cursor.read(Int16.self, "value of '\(key)'"))
        case .uint32: return .uint32(try cursor.read(UInt32.self, "value of '\(key)'"))
        case .int32: return .int32(try cursor.read(Int32.self, "value of '\(key)'"))
        case .uint64: return .uint64(try cursor.read(UInt64.self, "value of '\(key)'"))
        case .int64: return .int64(try cursor.read(Int64.self, "value of '\(key)'"))
        case .float32: return .float32(try cursor.readFloat("value of '\(key)'"))
        case .float64: return .float64(try cursor.readDouble("value of '\(key)'"))
        case .bool:
            let byte = try cursor.read(UInt8.self, "value of '\(key)'")
            guard byte <= 1 else { throw GGUFError.valueOutOfRange(key: key, reason: "bool byte \(byte) is neither 0 nor 1") }
            return .bool(byte == 1)
        case .string: return .string(try cursor.readString("value of '\(key)'"))
        case .array: return .array(try readArray(key: key, cursor: &cursor, file: file, depth: depth))
        }
    }

    private static func readArray(key: String, cursor: inout ByteCursor, file: MappedFile, depth: Int) throws -> GGUFArray {
        guard depth < maxArrayDepth else {
            throw GGUFError.valueOutOfRange(key: key, reason: "arrays nested deeper than \(maxArrayDepth)")
        }
        let rawType = try cursor.read(UInt32.self, "array type of '\(key)'")
        guard let elementType = GGUFValueType(rawValue: rawType) else {
            throw GGUFError.unknownValueType(key: key, type: rawType)
        }
        let countOffset = cursor.offset
        let count = try cursor.read(UInt64.self, "array length of '\(key)'")
        try cursor.checkCount(count, minimumSize: elementType.minimumEncodedSize, what: "array length of '\(key)'", countOffset: countOffset)
        let n = Int(count)
        if let size = elementType.fixedSize {
            let start = cursor.offset
            try cursor.skip(n * size, "elements of '\(key)'")
            let raw = UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + n * size)])
            if elementType == .bool, raw.contains(where: { $0 > 1 }) {
                throw GGUFError.valueOutOfRange(key: key, reason: "bool array holds a byte that is neither 0 nor 1")
            }
            return GGUFArray(elementType: elementType, count: n, storage: .fixed(raw), file: file)
        }
        if elementType == .string {
            var ranges: [Range<Int>] = []
            ranges.reserveCapacity(n)
            for i in 0..<n { ranges.append(try cursor.readStringRange("element \(i) of '\(key)'")) }
            return GGUFArray(elementType: .string, count: n, storage: .strings(ranges), file: file)
        }
        var items: [GGUFArray] = []
        items.reserveCapacity(n)
        for _ in 0..<n { items.append(try readArray(key: key, cursor: &cursor, file: file, depth: depth + 1)) }
        return GGUFArray(elementType: .array, count: n, storage: .arrays(items), file: file)
    }

    public func tensor(named name: String) -> GGUFTensor? {
        tensorIndex[name].map { tensors[$0] }
    }

    public func requireTensor(_ name: String) throws -> GGUFTensor {
        guard let t = tensor(named: name) else { throw GGUFError.missingTensor(name) }
        return t
    }
}

/// One tensor: its GGUF shape (ne0 = row length first) and its bytes in the map.
public struct GGUFTensor: @unchecked Sendable {
    public let name: String
    /// Extents, fastest-varying first (GGUF/ggml order): shape[0] is the row length.
    public let shape: [Int]
    public let type: TensorType
    public let data: UnsafeRawBufferPointer
    let file: MappedFile

    public var elementCount: Int { shape.reduce(1, *) }
    public var rowLength: Int { shape[0] }

    /// See MappedFile.releasePages: for tensors copied out of the file.
    func releaseMappedPages() { file.releasePages(of: data) }
    public var rowCount: Int { elementCount / shape[0] }
}
