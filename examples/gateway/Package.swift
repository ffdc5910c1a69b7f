// swift-tools-version: 6.1
//
// A runnable LLM gateway loop on top of Purser:
// authorize → (simulated) provider call → settle or release.
//
//   cd examples/gateway && swift run gateway
//
// It depends on the Purser package two directories up. In your own gateway,
// depend on Purser by URL instead:
//
//   .package(url: "https://github.com/purser-dev/purser", from: "0.1.0"),
//
// Purser reads YAML with the system libyaml and gzip logs with zlib:
// `apt-get install libyaml-dev zlib1g-dev`
// (Debian, Ubuntu) or `brew install libyaml zlib` (macOS) first.
import PackageDescription

let package = Package(
    name: "GatewayExample",
    platforms: [.macOS(.v15)],  // Purser uses Synchronization's Mutex and Atomic
    dependencies: [
        .package(name: "Purser", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "gateway",
            dependencies: [.product(name: "Purser", package: "Purser")]
        ),
    ]
)
