// swift-tools-version: 6.1
//
// libFuzzer targets for Purser's input parsers, in their own package so that
// `swift test` in the main package never builds them with sanitizers.
//
//   FuzzYAML      YAMLReader on raw bytes, then the policy decoder
//                 (PolicySet.load(files:)), checks and the SARIF renderer
//   FuzzRequest   RequestDecoder on raw bytes (evaluated against a fixed
//                 policy when it decodes), and PriceTable(litellmJSON:)
//   FuzzMoney     prices, caps and TTLs written into a policy, then hostile
//                 usage and costs authorized and settled against a ledger
//
// Build and run for a bounded time with `./run.sh [SECONDS] [TARGET]`; it
// builds with
//
//   swift build -c debug --scratch-path .build-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//
// Each target defines `LLVMFuzzerTestOneInput` and is compiled as a library
// (`-parse-as-library`, no top-level code). SwiftPM links executables with
// `--defsym main=<Target>_main`, which hides libFuzzer's own `main`; so each
// target also defines `<Target>_main`, which starts libFuzzer's driver
// through the small C target FuzzDriver.
import PackageDescription

let package = Package(
    name: "PurserFuzz",
    dependencies: [
        .package(name: "Purser", path: ".."),
    ],
    targets: [
        // Hands `main` over to libFuzzer's driver (see FuzzDriver.h).
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "FuzzYAML",
            dependencies: ["FuzzDriver", .product(name: "PurserFuzzing", package: "Purser")]
        ),
        .executableTarget(
            name: "FuzzRequest",
            dependencies: ["FuzzDriver", .product(name: "PurserFuzzing", package: "Purser")]
        ),
        .executableTarget(
            name: "FuzzMoney",
            dependencies: ["FuzzDriver", .product(name: "PurserFuzzing", package: "Purser")]
        ),
    ]
)
