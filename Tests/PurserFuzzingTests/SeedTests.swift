import Foundation
import PurserFuzzing
import Testing

/// Every seed of the fuzz corpora (Fuzz/seeds/KIND/) through its harness, without the fuzzer:
/// a harness stops the process on a broken invariant (`preconditionFailure`), so a seed that
/// once found a bug, or any other seed, fails the test run if the bug comes back.
@Suite("Fuzz seeds")
struct SeedTests {
    static let seeds: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Fuzz/seeds").path
    }()

    @Test(arguments: ["yaml", "request", "money"])
    func everySeedRunsClean(kind: String) throws {
        let directory = Self.seeds + "/" + kind
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names.count >= 3, "the \(kind) corpus has seeds")
        let harness: (UnsafePointer<UInt8>, Int) -> CInt =
            switch kind {
            case "yaml": fuzzYAML
            case "request": fuzzRequest
            default: fuzzMoney
            }
        for name in names {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
            let status = bytes.withUnsafeBufferPointer { buffer -> CInt in
                // An empty input still needs a valid pointer.
                guard let base = buffer.baseAddress else { return withUnsafePointer(to: UInt8(0)) { harness($0, 0) } }
                return harness(base, buffer.count)
            }
            #expect(status == 0, "\(kind)/\(name)")
        }
    }
}
