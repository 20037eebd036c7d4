/// A ggml tensor element type: how many values share one block and how many
/// bytes a block takes. The sizes of types kvserve does not compute with are
/// still known, so every tensor's extent can be checked against the file.
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
    public let id: UInt32
    public let name: String
    /// Values per block (1 for plain float and integer types).
    public let blockLength: Int
    /// Bytes per block.
    public let blockBytes: Int

    public static let f32 = TensorType(id: 0, name: "F32", blockLength: 1, blockBytes: 4)
    public static let f16 = TensorType(id: 1, name: "F16", blockLength: 1, blockBytes: 2)
    /// bfloat16: the top 16 bits of an f32 (x = bits << 16, exact).
    public static let bf16 = TensorType(id: 30, name: "BF16", blockLength: 1, blockBytes: 2)
    /// 32 values: f16 scale d, then 16 bytes of 4-bit q; x = (q - 8) * d.
    public static let q4_0 = TensorType(id: 2, name: "Q4_0", blockLength: 32, blockBytes: 18)
    /// 32 values: f16 scale d, f16 minimum m, 16 bytes of 4-bit q; x = q * d + m.
    public static let q4_1 = TensorType(id: 3, name: "Q4_1", blockLength: 32, blockBytes: 20)
    /// 32 values: f16 scale d, then 32 signed bytes q; x = q * d.
    public static let q8_0 = TensorType(id: 8, name: "Q8_0", blockLength: 32, blockBytes: 34)
    /// 32 values: f16 d, 32 high bits, 16 bytes of low nibbles; x = (q - 16) * d.
    public static let q5_0 = TensorType(id: 6, name: "Q5_0", blockLength: 32, blockBytes: 22)
    /// 32 values: f16 d, f16 m, 32 high bits, 16 bytes of low nibbles; x = q * d + m.
    public static let q5_1 = TensorType(id: 7, name: "Q5_1", blockLength: 32, blockBytes: 24)
    /// 256 values in 16 sub-blocks of 16: scales[16] (low nibble sc, high
    /// nibble m), 64 bytes of 2-bit q, f16 d, f16 dmin; x = d sc q - dmin m.
    public static let q2_K = TensorType(id: 10, name: "Q2_K", blockLength: 256, blockBytes: 84)
    /// 256 values in 16 sub-blocks of 16: hmask[32] (third bits), 64 bytes
    /// of 2-bit low parts, 6-bit scales packed in 12 bytes, f16 d last;
    /// x = d (sc - 32) (q - 4), q = low | third bit << 2.
    public static let q3_K = TensorType(id: 11, name: "Q3_K", blockLength: 256, blockBytes: 110)
    /// 256 values in 8 sub-blocks of 32: f16 d and dmin, 6-bit scales and
    /// minimums packed in 12 bytes, 128 bytes of nibbles; x = d sc q - dmin m.
    public static let q4_K = TensorType(id: 12, name: "Q4_K", blockLength: 256, blockBytes: 144)
    /// As Q4_K with a fifth bit per value (32 bytes) before the nibbles.
    public static let q5_K = TensorType(id: 13, name: "Q5_K", blockLength: 256, blockBytes: 176)
    /// 256 values in 16 sub-blocks of 16: 128 bytes of low nibbles, 64 of
    /// high 2-bit pairs, 16 int8 scales, f16 d last; x = d sc (q - 32).
    public static let q6_K = TensorType(id: 14, name: "Q6_K", blockLength: 256, blockBytes: 210)

    public static let known: [UInt32: TensorType] = {
        let table: [(UInt32, String, Int, Int)] = [
            (0, "F32", 1, 4), (1, "F16", 1, 2), (2, "Q4_0", 32, 18), (3, "Q4_1", 32, 20),
            (6, "Q5_0", 32, 22), (7, "Q5_1", 32, 24), (8, "Q8_0", 32, 34), (9, "Q8_1", 32, 40),
            (10, "Q2_K", 256, 84), (11, "Q3_K", 256, 110), (12, "Q4_K", 256, 144),
            (13, "Q5_K", 256, 176), (14, "Q6_K", 256, 210), (15, "Q8_K", 256, 292),
            (16, "IQ2_XXS", 256, 66), (17, "IQ2_XS", 256, 74), (18, "IQ3_XXS", 256, 98),
            (19, "IQ1_S", 256, 50), (20, "IQ4_NL", 32, 18), (21, "IQ3_S", 256, 110),
            (22, "IQ2_S", 256, 82), (23, "IQ4_XS", 256, 136), (24, "I8", 1, 1), (25, "I16", 1, 2),
            (26, "I32", 1, 4), (27, "I64", 1, 8), (28, "F64", 1, 8), (29, "IQ1_M", 256, 56),
            (30, "BF16", 1, 2), (34, "TQ1_0", 256, 54), (35, "TQ2_0", 256, 66), (39, "MXFP4", 32, 17),
        ]
        var map: [UInt32: TensorType] = [:]
        for (id, name, length, bytes) in table {
            map[id] = TensorType(id: id, name: name, blockLength: length, blockBytes: bytes)
        }
        return map
    }()

    /// The types kvserve dequantizes and multiplies with.
    public var isComputable: Bool {
        Self.computable.contains(self)
    }

    static let computable: Set<TensorType> = [.f32, .f16, .bf16, .q4_0, .q4_1, .q8_0, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K,
                                               .q5_K, .q6_K]

    /// Whether a block is 256 values with sub-block scales (the K-quants).
    var isSuperBlock: Bool { blockLength == 256
    }

    /// Bytes for one row of `length` values (length must be a multiple of blockLength).
    public func rowBytes(_ length: Int) -> Int { length / blockLength * blockBytes }

    public var description: String { name }
}
