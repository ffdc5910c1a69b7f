// swift-tools-version: 6.1
//
// Purser — a policy-as-code budget enforcer for LLM usage.
//
// Module layout (dependencies point down only):
//
//   CYAML        system library: libyaml through pkg-config `yaml-0.1`
//   CZlib        system library: zlib through pkg-config `zlib` (gzip-compressed usage logs)
//   PurserYAML   hardened YAML reader: located node tree, SPEC §8 limits
//   Purser       policy model, checks, compiler, engine, ledgers, audit
//   PurserCLI    the thin `purser` executable (swift-argument-parser)
//
// Benchmarks live in their own package under `Benchmarks/` so that
// `swift test` never builds them.
import PackageDescription

let package = Package(
    name: "Purser",
    // Mutex and Atomic (Synchronization) need macOS 15; Linux has them with Swift 6.
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Purser", targets: ["Purser"]),
        .executable(name: "purser", targets: ["PurserCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // The reference CSV parser the importers' own RFC 4180 splitter is checked against (tests only).
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"]), .brew(["libyaml"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        .target(
            name: "PurserYAML",
            dependencies: ["CYAML"]
        ),
        .target(
            name: "Purser",
            dependencies: [
                "PurserYAML",
                "CZlib",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "PurserCLI",
            dependencies: [
                "Purser",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "PurserYAMLTests",
            dependencies: ["PurserYAML"]
        ),
        .testTarget(
            name: "PurserTests",
            dependencies: ["Purser", .product(name: "CSV", package: "CSV.swift")]
        ),
        .testTarget(
            name: "PurserCLITests",
            dependencies: ["PurserCLI", "Purser"]
        ),
    ]
)
