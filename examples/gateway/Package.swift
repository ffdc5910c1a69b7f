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
//   .package(url: "https://github.com/<org>/purser", from: "<version>")
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
