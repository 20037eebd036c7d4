import Foundation
import Testing
@testable import Model

/// A small valid file: every metadata type, a nested array, two tensors.
private func sampleBuilder() -> GGUFBuilder {
    var b = GGUFBuilder()
    b.metadata = [
        ("general.architecture", .string("llama")),
        ("u8", .uint8(200)), ("i8", .int8(-100)), ("u16", .uint16(60000)), ("i16", .int16(-30000)),
        ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)),
        ("u64", .uint64(1 << 40)), ("i64", .int64(-(1 << 40))),
        ("f32", .float32(0.25)), ("f64", .float64(-1.5e300)), ("flag", .bool(true)),
        ("text", .string("héllo\n")),
        ("ints", .array(typeID: 5, [.int32(1), .int32(-2), .int32(3)])),
        ("names", .array(typeID: 8, [.string("a"), .string(""), .string("ccc")])),
        ("nested", .array(typeID: 9, [.array(typeID: 4, [.uint32(7)]), .array(typeID: 8, [.string("x"), .string("yz")])])),
    ]
    b.tensors = [
        .init(name: "a", dims: [4, 2], type: 0, data: (0..<8).flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian, Array.init) }),
        .init(name: "b", dims: [32], type: 8, data: [0x00, 0x3C] + (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }),
    ]
    return b
}

/// The 24-byte header of an empty file, without alignment padding.
private func headerOnly() -> [UInt8] { Array(GGUFBuilder().build()[..<24]) }

@Suite struct GGUFReaderTests {
    @Test func readsEveryMetadataType() throws {
        let f = try GGUFBuilder.parse(sampleBuilder().build())
        #expect(f.version == 3)
        #expect(f.metadataKeys.first == "general.architecture")
        #expect(try f.string("general.architecture") == "llama")
        #expect(f.value("u8")?.integer == 200)
        #expect(f.value("i8")?.integer == -100)
        #expect(f.value("u16")?.integer == 60000)
        #expect(f.value("i16")?.integer == -30000)
        #expect(f.value("u32")?.integer == 4_000_000_000)
        #expect(f.value("i32")?.integer == -2_000_000_000)
        #expect(f.value("u64")?.integer == 1 << 40)
        #expect(f.value("i64")?.integer == -(1 << 40))
        #expect(try f.float("f32") == 0.25)
        #expect(f.value("f64")?.number == -1.5e300)
        #expect(try f.optionalBool("flag") == true)
        #expect(try f.string("text") == "héllo\n")
        #expect(try f.array("ints", of: .int32).integers() == [1, -2, 3])
        #expect(try f.array("names", of: .string).strings() == ["a", "", "ccc"])
        let nested = try #require(try f.array("nested", of: .array).arrays())
        #expect(nested.count == 2)
        #expect(nested[0].integers() == [7])
        #expect(nested[1].strings() == ["x", "yz"])
    }

    @Test func readsTensorDirectoryAndData() throws {
        let f = try GGUFBuilder.parse(sampleBuilder().build())
        #expect(f.tensors.map(\.name) == ["a", "b"])
        let a = try f.requireTensor("a")
        #expect(a.shape == [4, 2] && a.type == .f32 && a.rowCount == 2)
        #expect(try a.dequantized() == (0..<8).map(Float.init))
        #expect(try a.dequantizedRow(1) == [4, 5, 6, 7])
        let b = try f.requireTensor("b")
        // Q8_0 with scale 1.0 (f16 0x3C00): values are the signed bytes.
        #expect(try b.dequantized() == (0..<32).map { Float($0 - 16) })
        #expect(f.dataOffset % 32 == 0)
        #expect(throws: GGUFError.missingTensor("c")) { try f.requireTensor("c") }
    }

    @Test func honoursGeneralAlignment() throws {
        var b = sampleBuilder()
        b.alignment = 64
        b.metadata.append(("general.alignment", .uint32(64)))
        let f = try GGUFBuilder.parse(b.build())
        #expect(f.alignment == 64 && f.dataOffset % 64 == 0)
        #expect(try f.requireTensor("b").dequantizedRow(0)[0] == -16)
    }

    @Test func typedAccessorsNameTheKey() throws {
        let f = try GGUFBuilder.parse(sampleBuilder().build())
        #expect(throws: GGUFError.missingKey("llama.block_count")) { try f.int("llama.block_count") }
        #expect(throws: GGUFError.wrongKeyType(key: "text", expected: "an integer", found: "string")) { try f.int("text") }
        #expect(throws: GGUFError.valueOutOfRange(key: "i8", reason: "-100 is outside 0...2147483647")) { try f.int("i8") }
    }

    @Test func missingHyperparameterIsNamed() throws {
        var b = GGUFBuilder()
        b.metadata = [("general.architecture", .string("llama")), ("llama.context_length", .uint32(128))]
        let f = try GGUFBuilder.parse(b.build())
        #expect(throws: GGUFError.missingKey("llama.embedding_length")) { try ModelHyperparameters(f) }
        var g = GGUFBuilder()
        g.metadata = [("general.architecture", .string("gpt2"))]
        #expect(throws: GGUFError.self) { try ModelHyperparameters(GGUFBuilder.parse(g.build())) }
    }

    // MARK: malformed files: each is a descriptive error, never a crash

    @Test func refusesBadMagicAndVersion() throws {
        var b = sampleBuilder()
        b.magic = 0x4C4C_4747
        #expect(throws: GGUFError.badMagic(found: 0x4C4C_4747)) { try GGUFBuilder.parse(b.build()) }
        b = sampleBuilder()
        b.version = 4
        #expect(throws: GGUFError.unsupportedVersion(4)) { try GGUFBuilder.parse(b.build()) }
        #expect(throws: GGUFError.self) { try GGUFBuilder.parse([]) }
    }

    @Test func everyTruncationIsAnError() throws {
        let bytes = sampleBuilder().build()
        let full = try GGUFBuilder.parse(bytes)
        // Only the alignment padding after the last tensor may be cut.
        let last = full.tensors.last!
        let end = last.data.baseAddress! + last.data.count - full.file.bytes.baseAddress!
        for length in 0..<end {
            #expect(throws: GGUFError.self, "prefix of \(length) bytes") { try GGUFBuilder.parse(Array(bytes[..<length])) }
        }
        #expect(try GGUFBuilder.parse(Array(bytes[..<end])).tensors.count == 2)
    }

    @Test func refusesAbsurdCounts() throws {
        var b = sampleBuilder()
        b.tensorCountOverride = 1 << 60
        #expect(throws: GGUFError.self) { try GGUFBuilder.parse(b.build()) }
        b = sampleBuilder()
        b.metadataCountOverride = UInt64.max
        #expect(throws: GGUFError.self) { try GGUFBuilder.parse(b.build()) }

        // A string that claims 2^62 bytes, and an array that claims 2^40 elements.
        var bytes = headerOnly()
        bytes[16] = 1  // metadata count = 1
        bytes += [3, 0, 0, 0, 0, 0, 0, 0] + Array("key".utf8) + [8, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 0x40]
        #expect(throws: GGUFError.self) { try GGUFBuilder.parse(bytes) }
        var array = headerOnly()
        array[16] = 1
        array += [3, 0, 0, 0, 0, 0, 0, 0] + Array("key".utf8) + [9, 0, 0, 0] + [0, 0, 0, 0] + [0, 0, 0, 0, 0, 1, 0, 0]
        #expect(throws: GGUFError.absurdCount(what: "array length of 'key'", count: 1 << 40, offset: 43)) {
            try GGUFBuilder.parse(array)
        }
    }

    @Test func refusesBadTensors() throws {
        func check(_ mutate: (inout GGUFBuilder) -> Void) {
            var b = sampleBuilder()
            mutate(&b)
            #expect(throws: GGUFError.self) { try GGUFBuilder.parse(b.build()) }
        }
        check { $0.tensors[1].offset = 1 << 20 }                 // past the end
        check { $0.tensors[1].offset = 8 }                       // misaligned
        check { $0.tensors[0].dims = [4, 2, 1, 1, 1] }           // five dimensions
        check { $0.tensors[0].dims = [0, 2] }                    // empty extent
        check { $0.tensors[0].dims = [1 << 31, 1 << 31, 1 << 31, 1 << 31] }  // overflow
        check { $0.tensors[1].dims = [16] }                      // not whole Q8_0 blocks
        check { $0.tensors[0].dims = [4, 30] }                   // data runs off the end
        check { $0.tensors[1].type = 99 }                        // unknown type
        check { $0.tensors[1].name = "a" }                       // duplicate name
        check { $0.metadata.append(("u8", .uint8(1))) }          // duplicate key
        check { $0.metadata.append(("general.alignment", .uint32(48))) }
        check { $0.metadata.append(("bad", .array(typeID: 77, []))) }
    }

    @Test func unknownValueTypeNamesTheKey() throws {
        var bytes = headerOnly()
        bytes[16] = 1
        bytes += [3, 0, 0, 0, 0, 0, 0, 0] + Array("odd".utf8) + [42, 0, 0, 0]
        #expect(throws: GGUFError.unknownValueType(key: "odd", type: 42)) { try GGUFBuilder.parse(bytes) }
    }

    @Test func unsupportedTensorTypeIsNamedWhenUsed() throws {
        var b = sampleBuilder()
        b.tensors.append(.init(name: "k", dims: [256], type: 23, data: Array(repeating: 0, count: 136)))  // IQ4_XS
        let f = try GGUFBuilder.parse(b.build())
        #expect(throws: GGUFError.unsupportedTensorType(name: "k", type: "IQ4_XS")) { try f.requireTensor("k").dequantized() }
    }

    @Test func randomCorruptionNeverCrashes() throws {
        let original = sampleBuilder().build()
        var rng = SplitMix64(seed: 42)
        var parsed = 0
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            if (try? GGUFBuilder.parse(bytes)) != nil { parsed += 1 }
        }
        // Corrupting tensor data or a value still parses; the point is no crash.
        #expect(parsed > 0 && parsed < 3000)
    }

    @Test func missingFileAndDirectoryAreErrors() {
        #expect(throws: GGUFError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
        #expect(throws: GGUFError.self) { try GGUFFile(path: "/tmp") }
    }
}
