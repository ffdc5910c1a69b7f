// swift-tools-version: 6.1
//
// Purser — a policy-as-code budget enforcer for LLM usage.
//
// Modules by stage; each depends only on the ones above it, and the compiler
// enforces it (a module cannot import one that is not among its dependencies):
//
//   CYAML, CZlib, CSQLite  system libraries: libyaml, zlib and SQLite through pkg-config
//   PurserYAML     hardened YAML reader: a located node tree with size and depth limits
//   PurserCore     foundation: exact money, time and zones, JSON scanner and writer, byte search
//   PurserPolicy   the policy language: model, loading, validation, `purser check` diagnostics
//   Purser         the engine a gateway links: compile, evaluate, budgets and the `Ledger`
//                  protocol, `Enforcer`, request and decision wire formats, policy tests
//   PurserSQLite   the `sqlite:` ledger: budgets in a file, shared by the processes of one host
//   PurserPostgres the `postgres://` ledger: budgets a fleet of replicas shares (postgres-nio)
//   PurserDecisionLog  the tamper-evident decision log: hash-chained lines, Ed25519 checkpoints, its verifier
//   PurserServer   `purser serve`: the HTTP sidecar (Hummingbird) any gateway calls for decisions
//   PurserAudit    `purser audit`: log importers, replay and its fast path, report renderers
//   PurserPolicyCommands  `check`, `test`, `explain`, `schema`: the commands of a policy author
//   PurserCLI      the thin `purser` executable (swift-argument-parser): those and `eval`, `audit`, `generate`,
//                  `ledger`, `serve`, `verify-log`, `keygen`
//   PurserPolicyTool  the `purser-policy` executable: the policy author's commands alone, which the
//                  pre-commit hook builds without the audit
//   PurserFuzzing  the libFuzzer harnesses' bodies (Fuzz/ adds the fuzzer)
//
// The `Purser` product is the engine and the policy layer beneath it, nothing of the
// audit; a gateway that depends on it compiles none of the importers or renderers, and
// no database driver. Each store is a product of its own (`PurserSQLite`, `PurserPostgres`); a
// package that depends on one product never fetches what only another needs (SwiftPM resolves
// by target), so a gateway on `Purser` alone does not even download postgres-nio.
// Benchmarks live in their own package under `Benchmarks/` so that `swift test`
// never builds them. docs/architecture.md says why each line is where it is.
import PackageDescription
import class Foundation.ProcessInfo

let package = Package(
    name: "Purser",
    // Mutex and Atomic (Synchronization) need macOS 15; Linux has them with Swift 6.
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Purser", targets: ["Purser"]),
        .library(name: "PurserSQLite", targets: ["PurserSQLite"]),
        .library(name: "PurserPostgres", targets: ["PurserPostgres"]),
        .library(name: "PurserDecisionLog", targets: ["PurserDecisionLog"]),
        .library(name: "PurserServer", targets: ["PurserServer"]),
        .library(name: "PurserAudit", targets: ["PurserAudit"]),
        // The libFuzzer harnesses' bodies, for the Fuzz/ package (which adds the fuzzer and
        // its sanitizers); here they reach the package's internals, and their seeds run as tests.
        .library(name: "PurserFuzzing", targets: ["PurserFuzzing"]),
        .executable(name: "purser", targets: ["PurserCLI"]),
        // `check`, `test`, `explain` and `schema` alone, for the pre-commit hook (.pre-commit-hooks.yaml).
        .executable(name: "purser-policy", targets: ["PurserPolicyTool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // `purser serve`: HTTP, graceful start and stop, logs and Prometheus metrics.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
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
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .target(
            name: "PurserYAML",
            dependencies: ["CYAML"]
        ),
        .target(
            name: "PurserCore"
        ),
        .target(
            name: "PurserPolicy",
            dependencies: [
                "PurserCore",
                "PurserYAML",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "Purser",
            dependencies: ["PurserYAML", "PurserCore", "PurserPolicy"]
        ),
        .target(
            name: "PurserSQLite",
            dependencies: ["Purser", "PurserCore", "PurserPolicy", "CSQLite"]
        ),
        .target(
            name: "PurserPostgres",
            dependencies: [
                "Purser", "PurserCore", "PurserPolicy",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .target(
            name: "PurserDecisionLog",
            dependencies: [
                "Purser", "PurserCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "PurserServer",
            dependencies: [
                "Purser", "PurserCore", "PurserPolicy", "PurserDecisionLog",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "PurserAudit",
            dependencies: [
                "Purser",
                "CZlib",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "PurserFuzzing",
            dependencies: ["Purser", "PurserAudit"]
        ),
        .target(
            name: "PurserPolicyCommands",
            dependencies: [
                "Purser",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "PurserCLI",
            dependencies: [
                "Purser",
                "PurserAudit",
                "PurserSQLite",
                "PurserPostgres",
                "PurserServer",
                "PurserDecisionLog",
                "PurserPolicyCommands",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "PurserPolicyTool",
            dependencies: [
                "PurserPolicyCommands",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Tests mirror the modules: one test target each, plus the fixtures they share.
        .target(
            name: "PurserTestSupport",
            dependencies: ["Purser"],
            path: "Tests/PurserTestSupport"
        ),
        .testTarget(
            name: "PurserYAMLTests",
            dependencies: ["PurserYAML"]
        ),
        .testTarget(
            name: "PurserCoreTests",
            dependencies: ["PurserCore"]
        ),
        .testTarget(
            name: "PurserPolicyTests",
            dependencies: ["PurserPolicy", "PurserTestSupport"]
        ),
        .testTarget(
            name: "PurserTests",
            dependencies: ["Purser", "PurserTestSupport"]
        ),
        .testTarget(
            name: "PurserSQLiteTests",
            dependencies: ["PurserSQLite", "PurserTestSupport"]
        ),
        .testTarget(
            name: "PurserPostgresTests",
            dependencies: ["PurserPostgres", "PurserCore", "PurserTestSupport"]
        ),
        .testTarget(
            name: "PurserDecisionLogTests",
            dependencies: ["PurserDecisionLog"]
        ),
        .testTarget(
            name: "PurserAuditTests",
            dependencies: ["PurserAudit", "PurserTestSupport", .product(name: "CSV", package: "CSV.swift")]
        ),
        // The public API a gateway sees, walked as docs/library.md documents it. Compiled with
        // a package name of its own, so that it sees only `public` declarations, as an outside
        // client does: losing a documented symbol fails the build. (A root-package-only flag:
        // packages that depend on Purser never build its tests.)
        .testTarget(
            name: "PurserAPITests",
            dependencies: ["Purser"],
            swiftSettings: [.unsafeFlags(["-package-name", "PurserAPIClient"])]
        ),
        .testTarget(
            name: "PurserFuzzingTests",
            dependencies: ["PurserFuzzing"]
        ),
        .testTarget(
            name: "PurserServerTests",
            dependencies: ["PurserServer", "PurserDecisionLog", "PurserPostgres", "PurserCore", "PurserTestSupport"]
        ),
        .testTarget(
            name: "PurserCLITests",
            dependencies: ["PurserCLI", "PurserAudit", "PurserDecisionLog", "PurserTestSupport"]
        ),
    ]
)

// `swift package generate-documentation --target Purser` (Sources/Purser/Purser.docc; `.ci/docs`
// builds it) needs swift-docc-plugin. Only when asked for: SwiftPM compiles every command plugin
// of the graph before any build, which would cost the pre-commit hook's first run a few seconds
// for documentation it never builds (docs/architecture.md, "Heavy dependencies to come").
if ProcessInfo.processInfo.environment["ENABLE_DOCC_PLUGIN"] != nil {
    package.dependencies.append(.package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"))
}
