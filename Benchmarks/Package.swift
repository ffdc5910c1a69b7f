// swift-tools-version: 6.1
//
// Purser's benchmarks, in their own package (as swift-log does) so that
// `swift test` in the main package never builds them.
//
//   swift package benchmark                 run every benchmark
//   ./run.sh                                the figures the issues ask for
import PackageDescription

let package = Package(
    name: "PurserBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Purser", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // Seeded generators of large policies and request streams.
        .target(
            name: "PurserFixtures",
            dependencies: [.product(name: "Purser", package: "Purser"), .product(name: "PurserAudit", package: "Purser")]
        ),
        // `purser-fixtures`: writes generated policies and JSONL request streams to disk.
        .executableTarget(
            name: "purser-fixtures",
            dependencies: ["PurserFixtures"]
        ),
        // `purser-import-bench`: generates usage logs and times the importers on one thread.
        .executableTarget(
            name: "purser-import-bench",
            dependencies: ["PurserFixtures", .product(name: "Purser", package: "Purser"), .product(name: "PurserAudit", package: "Purser")]
        ),
        // `empty-server`: Hummingbird answering a fixed decision, the baseline of `purser serve`.
        .executableTarget(
            name: "empty-server",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")]
        ),
        // `purser-profile`: a loop of decisions for perf and callgrind.
        .executableTarget(
            name: "purser-profile",
            dependencies: ["PurserFixtures"]
        ),
        .executableTarget(
            name: "EngineBenchmarks",
            dependencies: [
                "PurserFixtures",
                .product(name: "Purser", package: "Purser"), .product(name: "PurserAudit", package: "Purser"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/EngineBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "LedgerBenchmarks",
            dependencies: [
                .product(name: "Purser", package: "Purser"), .product(name: "PurserSQLite", package: "Purser"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/LedgerBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "YAMLBenchmarks",
            dependencies: [
                "PurserFixtures",
                .product(name: "Purser", package: "Purser"), .product(name: "PurserAudit", package: "Purser"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/YAMLBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
