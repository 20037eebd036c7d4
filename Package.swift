// swift-tools-version:6.1
import PackageDescription

// Kernels are SIMD Swift: without a target CPU swiftc emits SSE2 and calls
// library routines for Float16 (see docs/kernels.md, "Build flags"), so x86-64
// builds target Haswell-class CPUs (AVX2, FMA, F16C).
#if arch(x86_64)
let cpuFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let cpuFlags: [SwiftSetting] = []
#endif

let package = Package(
    name: "kvserve",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kvserve", targets: ["kvserve"]),
        // Draws `kvserve bench decode`'s JSON as PNG plots, outside the server binary.
        .executable(name: "kvserve-plot", targets: ["KVServePlot"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // Three x86 instructions the 8-bit kernels need and LLVM does not
        // select from Swift SIMD code (a header of one-line inline functions).
        .systemLibrary(name: "X86Instructions", path: "Sources/X86Instructions"),
        // The one JSON value type (order-keeping, exact numbers): every layer reads it.
        .target(name: "JSONTree"),
        .target(name: "Model", dependencies: ["X86Instructions", "JSONTree"], swiftSettings: cpuFlags),
        .target(name: "KVCache", swiftSettings: cpuFlags),
        // The system's SQLite (Debian: libsqlite3-dev to build, libsqlite3-0 to run).
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        // The disk tier, whole: the block file, its index, the tier that
        // moves blocks between RAM and the file, and opening it.
        .target(name: "KVDisk", dependencies: ["KVCache", "Model"], swiftSettings: cpuFlags),
        .target(name: "Storage", dependencies: ["CSQLite", .product(name: "PostgresNIO", package: "postgres-nio"),
                                          .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                          .product(name: "Logging", package: "swift-log")], swiftSettings: cpuFlags),
        // JSON-schema-constrained decoding: schema -> byte automaton -> token masks.
        .target(name: "StructuredOutput", dependencies: ["Model", "JSONTree"], swiftSettings: cpuFlags),
        .target(name: "Engine", dependencies: ["Model", "KVCache", "KVDisk", "StructuredOutput"], swiftSettings: cpuFlags),
        .target(name: "HTTPServer", dependencies: ["JSONTree"], swiftSettings: cpuFlags),
        .target(name: "Server", dependencies: ["JSONTree", "Model", "KVCache", "KVDisk", "Engine", "HTTPServer", "Storage", "StructuredOutput",
                                        .product(name: "Logging", package: "swift-log"),
                                        .product(name: "Prometheus", package: "swift-prometheus")], swiftSettings: cpuFlags),
        // The system's zlib (Debian: zlib1g-dev to build, zlib1g to run): PNG's deflate and CRC-32.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "Plotting", dependencies: ["CZlib"]),
        // What the bench writes and kvserve-plot reads (no dependencies: kvserve links it).
        .target(name: "BenchData"),
        .executableTarget(name: "KVServePlot", dependencies: ["Plotting", "BenchData", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // libFuzzer target for RequestParser; see scripts/fuzz-parser. Built
        // normally it replays the files named on its command line.
        .executableTarget(name: "HTTPParserFuzz", dependencies: ["HTTPServer"], swiftSettings: cpuFlags),
        .executableTarget(
            name: "kvserve",
            dependencies: ["JSONTree", "Server", "Model", "KVCache", "KVDisk", "Engine", "HTTPServer", "BenchData", "StructuredOutput", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: cpuFlags
        ),
        // What tests share (the default model, PostgreSQL, running programs); test targets only.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "JSONTreeTests", dependencies: ["JSONTree", "TestSupport"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "TestSupport"], exclude: ["Fixtures"], swiftSettings: cpuFlags),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Model", "KVCache", "KVDisk", "TestSupport", .product(name: "PropertyBased", package: "swift-property-based")], exclude: ["Fixtures"], swiftSettings: cpuFlags),
        .testTarget(name: "StructuredOutputTests", dependencies: ["StructuredOutput", "JSONTree", "Engine", "Model", "KVCache", "TestSupport"], swiftSettings: cpuFlags),
        .testTarget(name: "KVDiskTests", dependencies: ["KVDisk", "KVCache", "Model"], swiftSettings: cpuFlags),
        .testTarget(name: "KVCacheTests", dependencies: ["KVCache", "Model"], swiftSettings: cpuFlags),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "TestSupport"], swiftSettings: cpuFlags),
        .testTarget(name: "PlottingTests", dependencies: ["Plotting", "KVServePlot", "BenchData", "TestSupport"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "TestSupport"], exclude: ["Fixtures"], swiftSettings: cpuFlags),
        .testTarget(name: "ServerTests", dependencies: ["JSONTree", "Server", "HTTPServer", "Engine", "Model", "Storage", "TestSupport"], exclude: ["OpenAI", "ScaleOut"], swiftSettings: cpuFlags),
    ]
)
