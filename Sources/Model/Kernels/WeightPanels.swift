/// Quantized weight rows repacked, once at load, into panels of eight rows
/// for the 8-bit kernels (`PanelKernel`).
///
/// In a panel the eight rows' blocks of 32 columns sit side by side: first
/// the eight f16 scales (and for Q4_1 the eight minimums), then the values in
/// groups of four columns, row after row. One 32-byte load then holds four
/// consecutive columns of all eight rows, so a broadcast of four activation
/// bytes meets all of them in one `vpmaddubsw`, and the eight 32-bit sums
/// that come out are the eight rows' results, one per lane: no horizontal
/// sums, and each (row, token) result is the same chain of operations
/// whatever the number of tokens multiplied together.
///
/// A panel block is exactly eight file blocks' bytes; rows past the last are
/// zero (scale 0) and never stored.
public enum PanelFormat: Sendable {
    /// Per panel block: d[8], then four 32-byte groups P_j whose byte 4r + i
    /// is row r's nibble byte 4j + i (low nibble: column 4j + i, high
    /// nibble: column 16 + 4j + i). Weight = (q - 8) d.
    case q4_0
    /// As q4_0 with m[8] after d[8]. Weight = q d + m.
    case q4_1
    /// Per panel block: d[8], then eight 32-byte groups G_g whose byte
    /// 4r + i is row r's value at column 4g + i (signed). Weight = q d.
    case q8_0
    /// 5-, 4-, 6- and 2-bit values stay packed (Q3_K's as Q6_K's): see
    /// `PackedPanelLayout`.
    case q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K

    public static let rows = 8

    init?(_ type: TensorType) {
        switch type.id {
        case TensorType.q4_0.id: self = .q4_0
        case TensorType.q4_1.id: self = .q4_1
        case TensorType.q8_0.id: self = .q8_0
        case TensorType.q5_0.id: self = .q5_0
        case TensorType.q5_1.id: self = .q5_1
        case TensorType.q2_K.id: self = .q2_K
        case TensorType.q3_K.id: self = .q3_K
        case TensorType.q4_K.id: self = .q4_K
        case TensorType.q5_K.id: self = .q5_K
        case TensorType.q6_K.id: self = .q6_K
        default: return nil
        }
    }

    var fileType: TensorType {
        switch self {
        case .q4_0: return .q4_0
        case .q4_1: return .q4_1
        case .q8_0: return .q8_0
        case .q5_0: return .q5_0
        case .q5_1: return .q5_1
        case .q2_K: return .q2_K
        case .q3_K: return .q3_K
        case .q4_K: return .q4_K
        case .q5_K: return .q5_K
        case .q6_K: return .q6_K
        }
    }

    /// Bytes of one file block (32 or 256 columns) of eight rows.
    var blockBytes: Int {
        switch self {
        case .q4_0, .q4_1, .q8_0: return Self.rows * fileType.blockBytes
        default: return packed.blockBytes
        }
    }

    /// Bytes of the scales (and minimums) at the start of a panel block.
    var scaleBytes: Int { self == .q4_1 ? 32 : 16 }

    /// Offset of a file block's values (after its f16 scale and minimum).
    private var fileValueOffset: Int { self == .q4_1 ? 4 : 2 }

    static func panelCount(rows: Int) -> Int { (rows + Self.rows - 1) / Self.rows }

    /// Bytes of `rows` rows of `columns` values as panels.
    func byteCount(rows: Int, columns: Int) -> Int {
        Self.panelCount(rows: rows) * columns / fileType.blockLength * blockBytes
    }

    /// Writes `rows` file-layout rows (`source`) as panels to `destination`
    /// (`byteCount(rows:columns:)` bytes).
    func repack(_ source: UnsafeRawPointer, rows: Int, columns: Int, into destination: UnsafeMutableRawPointer) {
        guard self == .q4_0 || self == .q4_1 || self == .q8_0 else {
            return packed.repack(source, rows: rows, columns: columns, into: destination)
        }
        let blocks = columns / 32, fileBlock = fileType.blockBytes, rowBytes = blocks * fileBlock
        let groupBytes = 32, groups = (blockBytes - scaleBytes) / groupBytes
        destination.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount(rows: rows, columns: columns))
        for row in 0..<rows {
            let panel = row / Self.rows, r = row % Self.rows
            for b in 0..<blocks {
                let from = source + row * rowBytes + b * fileBlock
                let to = destination + (panel * blocks + b) * blockBytes
                // Scale, then minimum, each in an array of eight.
                for k in 0..<(scaleBytes / 16) {
                    (to + 16 * k + 2 * r).copyMemory(from: from + 2 * k, byteCount: 2)
                }
                for g in 0..<groups {
                    (to + scaleBytes + g * groupBytes + 4 * r).copyMemory(from: from + fileValueOffset + 4 * g, byteCount: 4)
                }
            }
        }
    }

    /// Row `row` of a panel-layout matrix as floats (the embedding lookup).
    func dequantizeRow(_ row: Int, of data: UnsafeRawPointer, columns: Int, into destination: UnsafeMutablePointer<Float>) {
        guard self == .q4_0 || self == .q4_1 || self == .q8_0 else {
            return packed.dequantizeRow(row, of: data, columns: columns, into: destination)
        }
        let blocks = columns / 32, panel = row / Self.rows, r = row % Self.rows
        for b in 0..<blocks {
            let block = data + (panel * blocks + b) * blockBytes
            let d = Dequantize.half(block, 2 * r)
            let out = destination + 32 * b
            switch self {
            case .q4_0, .q4_1:
                // The file's formulas exactly: (q - 8) d, and q d + m.
                let m = self == .q4_1 ? Dequantize.half(block, 16 + 2 * r) : 0
                @inline(__always) func value(_ q: UInt8) -> Float {
                    self == .q4_0 ? Float(Int(q) - 8) * d : Float(q) * d + m
                }
                for j in 0..<4 {
                    for i in 0..<4 {
                        let byte = block.load(fromByteOffset: scaleBytes + 32 * j + 4 * r + i, as: UInt8.self)
                        out[4 * j + i] = value(byte & 0xF)
                        out[16 + 4 * j + i] = value(byte >> 4)
                    }
                }
            default:
                for g in 0..<8 {
                    for i in 0..<4 {
                        out[4 * g + i] = Float(block.load(fromByteOffset: 16 + 32 * g + 4 * r + i, as: Int8.self)) * d
                    }
                }
            }
        }
    }
}
