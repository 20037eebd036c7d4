/// Panels of the 5-bit and K-quant formats keep their values packed, so a
/// token streams about as many bytes as the file holds (decode is bound by
/// memory bandwidth). Per file block (32 or 256 columns) of eight rows:
///
/// - a header (K-quants): each row's f16 d (and for Q4_K/Q5_K dmin), eight
///   side by side;
/// - per 32 columns, a sub-block: its scales, eight rows side by side
///   (Q5_0: f16 d; Q5_1: f16 d then m; Q4_K/Q5_K: the 6-bit scale and
///   minimum unpacked to a byte each; Q6_K: the int8 scales of columns
///   0-15 and 16-31), then 128 bytes of nibbles as in the Q4_0 panels
///   (group j, byte 4r + i: column 4j + i low, 16 + 4j + i high), then the
///   high bits of the group layout (column 4k + i of row r is in byte 4r + i):
///   one 32-byte plane with bit k holding bit 4 of that column (5-bit), or
///   two planes, for k < 4 and k >= 4, whose bits 2(k % 4) and 2(k % 4) + 1
///   hold bits 4 and 5 (Q6_K).
///
/// Shifting a plane by a constant and masking lines the high bits of one
/// group up over its nibbles, so unpacking costs three operations per 32
/// values.
///
/// Q3_K is stored as Q6_K, losslessly: its signed 6-bit scale sc - 32 is the
/// int8 scale and its q - 4 (q in 0...7) becomes the 6-bit q6 = q + 28, so
/// d (sc - 32) (q - 4) = d sc6 (q6 - 32) and the Q6_K kernel runs it. The
/// panels take 210 bytes per 256 values of a row against the file's 110.
///
/// Q2_K has a scale and a minimum per 16 columns and 2-bit values: a header
/// of d[8] and dmin[8], then per 32 columns the 4-bit scales of columns
/// 0-15 and 16-31, their minimums likewise (a byte each, eight rows side by
/// side), then two 32-byte planes, for columns 0-15 and 16-31, whose byte
/// 4r + i holds at bits 2k, 2k + 1 the value of column 4k + i of that half
/// (`PackedValues.twoBitPlace`): 100 bytes per 256 values of a row against
/// the file's 84.
struct PackedPanelLayout {
    let format: PanelFormat

    var fileType: TensorType { format.fileType }

    var headerBytes: Int {
        switch format {
        case .q4_K, .q5_K, .q2_K: return 32
        case .q6_K, .q3_K: return 16
        default: return 0
        }
    }

    /// Bytes of one sub-block's scales (eight rows).
    var scaleBytes: Int { format == .q5_1 || format == .q2_K ? 32 : 16 }

    /// 0: 4-bit values, 1: a fifth bit, 2: a fifth and a sixth.
    var highBits: Int {
        switch format {
        case .q4_K: return 0
        case .q6_K, .q3_K: return 2
        case .q2_K: return 0
        default: return 1
        }
    }

    /// Bytes of one sub-block's values (eight rows of 32).
    var valueBytes: Int { format == .q2_K ? 64 : 128 + 32 * highBits }
    var subBlockBytes: Int { scaleBytes + valueBytes }
    var subBlocks: Int { fileType.blockLength / 32 }
    var blockBytes: Int { headerBytes + subBlocks * subBlockBytes }

    func byteCount(rows: Int, columns: Int) -> Int {
        PanelFormat.panelCount(rows: rows) * columns / fileType.blockLength * blockBytes
    }

    /// Writes `rows` file-layout rows as panels.
    func repack(_ source: UnsafeRawPointer, rows: Int, columns: Int, into destination: UnsafeMutableRawPointer) {
        let fileBlocks = columns / fileType.blockLength
        destination.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount(rows: rows, columns: columns))
        for row in 0..<rows {
            let panel = row / PanelFormat.rows, r = row % PanelFormat.rows
            for s in 0..<fileBlocks {
                store(row: r, of: source + (row * fileBlocks + s) * fileType.blockBytes,
                      into: destination + (panel * fileBlocks + s) * blockBytes)
            }
        }
    }

    /// One file block of one row into its place in a panel block.
    private func store(row r: Int, of from: UnsafeRawPointer, into to: UnsafeMutableRawPointer) {
        @inline(__always) func half(_ fromOffset: Int, _ toOffset: Int) {
            (to + toOffset + 2 * r).copyMemory(from: from + fromOffset, byteCount: 2)
        }
        @inline(__always) func byte(_ value: UInt8, _ offset: Int) { to.storeBytes(of: value, toByteOffset: offset + r, as: UInt8.self) }
        /// Q6_K and Q3_K: d at `dOffset`, int8 scales per 16 columns, 6-bit values.
        func signedScales(d dOffset: Int, _ scale: (Int) -> Int8, _ q: (Int) -> UInt8) {
            half(dOffset, 0)
            for j in 0..<8 {
                let sub = headerBytes + j * subBlockBytes
                byte(UInt8(bitPattern: scale(2 * j)), sub); byte(UInt8(bitPattern: scale(2 * j + 1)), sub + 8)
                for l in 0..<32 { PackedValues.store(q(32 * j + l), column: l, row: r, highBits: highBits, into: to + sub + scaleBytes) }
            }
        }
        switch format {
        case .q5_0, .q5_1:
            let block = FiveBitBlock(base: from, minimumBytes: format == .q5_1 ? 2 : 0)
            half(0, 0)
            if format == .q5_1 { half(2, 16) }
            for c in 0..<32 { PackedValues.store(block.q(c), column: c, row: r, highBits: highBits, into: to + scaleBytes) }
        case .q4_K, .q5_K:
            let block = KSuperBlock(base: from, hasFifthBit: format == .q5_K)
            half(0, 0); half(2, 16)
            for j in 0..<8 {
                let sub = headerBytes + j * subBlockBytes, (sc, m) = block.scaleAndMinimum(j)
                byte(sc, sub); byte(m, sub + 8)
                for l in 0..<32 {
                    PackedValues.store(block.q(subBlock: j, l), column: l, row: r, highBits: highBits, into: to + sub + scaleBytes)
                }
            }
        case .q6_K:
            let block = Q6KSuperBlock(base: from)
            signedScales(d: 208, block.scale, block.q)
        case .q3_K:
            // q - 4 = (q + 28) - 32: Q6_K's stored value.
            let block = Q3KSuperBlock(base: from)
            signedScales(d: 108, block.scale) { block.q($0) + 28 }
        case .q2_K:
            let block = Q2KSuperBlock(base: from)
            half(80, 0); half(82, 16)
            for j in 0..<8 {
                let sub = headerBytes + j * subBlockBytes
                for h in 0..<2 {
                    let (sc, m) = block.scaleAndMinimum(2 * j + h)
                    byte(sc, sub + 8 * h); byte(m, sub + 16 + 8 * h)
                }
                for l in 0..<32 { PackedValues.storeTwoBit(block.q(32 * j + l), column: l, row: r, into: to + sub + scaleBytes) }
            }
        default:
            preconditionFailure("\(format) panels are not packed")
        }
    }

    /// Row `row` as floats, by the file formulas (bit-identical to
    /// dequantizing the file's row).
    func dequantizeRow(_ row: Int, of data: UnsafeRawPointer, columns: Int, into destination: UnsafeMutablePointer<Float>) {
        let fileBlocks = columns / fileType.blockLength, panel = row / PanelFormat.rows, r = row % PanelFormat.rows
        for s in 0..<fileBlocks {
            let block = data + (panel * fileBlocks + s) * blockBytes
            let out = destination + s * fileType.blockLength
            @inline(__always) func byte(_ offset: Int) -> UInt8 { block.load(fromByteOffset: offset + r, as: UInt8.self) }
            @inline(__always) func q(_ sub: Int, _ c: Int) -> UInt8 {
                PackedValues.load(column: c, row: r, highBits: highBits, from: block + sub + scaleBytes)
            }
            switch format {
            case .q5_0, .q5_1:
                let d = Dequantize.half(block, 2 * r), m = Dequantize.half(block, 16 + 2 * r)
                for c in 0..<32 {
                    out[c] = format == .q5_1 ? Dequantize.q5_1Value(q(0, c), d: d, m: m) : Dequantize.q5_0Value(q(0, c), d: d)
                }
            case .q4_K, .q5_K:
                let d = Dequantize.half(block, 2 * r), dmin = Dequantize.half(block, 16 + 2 * r)
                for j in 0..<8 {
                    let sub = headerBytes + j * subBlockBytes
                    let scale = d * Float(byte(sub)), minimum = dmin * Float(byte(sub + 8))
                    for l in 0..<32 { out[32 * j + l] = Dequantize.kValue(q(sub, l), scale: scale, minimum: minimum) }
                }
            case .q6_K, .q3_K:
                let d = Dequantize.half(block, 2 * r)
                for j in 0..<8 {
                    let sub = headerBytes + j * subBlockBytes
                    for l in 0..<32 {
                        let sc = Int8(bitPattern: byte(sub + 8 * (l / 16)))
                        out[32 * j + l] = Dequantize.q6KValue(q(sub, l), scale: d * Float(sc))
                    }
                }
            case .q2_K:
                let d = Dequantize.half(block, 2 * r), dmin = Dequantize.half(block, 16 + 2 * r)
                for j in 0..<8 {
                    let sub = headerBytes + j * subBlockBytes
                    for l in 0..<32 {
                        let scale = d * Float(byte(sub + 8 * (l / 16))), minimum = dmin * Float(byte(sub + 16 + 8 * (l / 16)))
                        let q = PackedValues.loadTwoBit(column: l, row: r, from: block + sub + scaleBytes)
                        out[32 * j + l] = Dequantize.kValue(q, scale: scale, minimum: minimum)
                    }
                }
            default:
                preconditionFailure("\(format) panels are not packed")
            }
        }
    }
}

/// Where the bits of column c (of 32) of row r sit in a packed sub-block's
/// values (see `PackedPanelLayout`).
enum PackedValues {
    @inline(__always)
    private static func nibble(_ c: Int, _ r: Int) -> (offset: Int, shift: UInt8) {
        (32 * ((c % 16) / 4) + 4 * r + c % 4, c < 16 ? 0 : 4)
    }

    /// The byte and bit of the high bits' plane that hold bit 4 (and 5) of q.
    @inline(__always)
    private static func high(_ c: Int, _ r: Int, _ highBits: Int) -> (offset: Int, shift: UInt8) {
        let k = c / 4
        if highBits == 1 { return (128 + 4 * r + c % 4, UInt8(k)) }
        return (128 + 32 * (k / 4) + 4 * r + c % 4, UInt8(2 * (k % 4)))
    }

    /// ORs q's bits into their places (the panel starts zeroed).
    static func store(_ q: UInt8, column c: Int, row r: Int, highBits: Int, into values: UnsafeMutableRawPointer) {
        func or(_ bits: UInt8, at offset: Int) {
            values.storeBytes(of: values.load(fromByteOffset: offset, as: UInt8.self) | bits, toByteOffset: offset, as: UInt8.self)
        }
        let n = nibble(c, r)
        or((q & 0xF) << n.shift, at: n.offset)
        if highBits > 0 {
            let h = high(c, r, highBits)
            or((q >> 4) << h.shift, at: h.offset)
        }
    }

    /// Q2_K: the byte and bit pair of column c of row r.
    @inline(__always)
    private static func twoBitPlace(_ c: Int, _ r: Int) -> (offset: Int, shift: UInt8) {
        (32 * (c / 16) + 4 * r + c % 4, UInt8(2 * ((c % 16) / 4)))
    }

    static func storeTwoBit(_ q: UInt8, column c: Int, row r: Int, into values: UnsafeMutableRawPointer) {
        let place = twoBitPlace(c, r)
        let old = values.load(fromByteOffset: place.offset, as: UInt8.self)
        values.storeBytes(of: old | (q & 3) << place.shift, toByteOffset: place.offset, as: UInt8.self)
    }

    static func loadTwoBit(column c: Int, row r: Int, from values: UnsafeRawPointer) -> UInt8 {
        let place = twoBitPlace(c, r)
        return (values.load(fromByteOffset: place.offset, as: UInt8.self) >> place.shift) & 3
    }

    static func load(column c: Int, row r: Int, highBits: Int, from values: UnsafeRawPointer) -> UInt8 {
        let n = nibble(c, r)
        let low = (values.load(fromByteOffset: n.offset, as: UInt8.self) >> n.shift) & 0xF
        guard highBits > 0 else { return low }
        let h = high(c, r, highBits), mask: UInt8 = highBits == 1 ? 1 : 3
        return low | ((values.load(fromByteOffset: h.offset, as: UInt8.self) >> h.shift) & mask) << 4
    }
}

extension PanelFormat {
    var packed: PackedPanelLayout { PackedPanelLayout(format: self) }
}
