import Purser
import PurserCore
import PurserPolicy
import PurserYAML
import PurserAudit

/// libFuzzer entry point: one input, read as a YAML policy file.
///
/// Runs the whole `purser check` path on the bytes: the hardened YAML
/// reader, the schema-directed decoder, assembly, the meaning checks and the
/// JSON and SARIF renderings. Any trap, sanitizer report, hang or runaway
/// allocation is a bug; so is a broken invariant, checked with
/// `preconditionFailure` so that libFuzzer saves the input.
public func fuzzYAML(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    readYAML(bytes)
    loadPolicy(bytes)
    return 0
}

/// The reader alone: either documents or one located error.
private func readYAML(_ bytes: [UInt8]) {
    do {
        _ = try YAMLReader().read(bytes, file: FuzzInput.file)
    } catch {
        if error.mark.line < 1 || error.mark.column < 1 {
            preconditionFailure("YAML error without a valid location: \(error)")
        }
    }
}

/// The policy decoder and checks, as `purser check` runs them.
private func loadPolicy(_ bytes: [UInt8]) {
    var options = PolicyLoadOptions()
    options.now = FuzzInput.now
    let result = PolicySet.load(files: [(name: FuzzInput.file, contents: bytes)], options: options)
    for diagnostic in result.diagnostics {
        let location = diagnostic.location
        if location.line < 1 || location.column < 1 || location.file.isEmpty {
            preconditionFailure("diagnostic without a valid location: \(diagnostic)")
        }
    }
    if result.policy != nil && result.errorCount > 0 {
        preconditionFailure("a policy was returned together with errors")
    }
    let report = CheckReport(result, strict: true)
    _ = report.render(.json, toolVersion: "fuzz")
    _ = report.render(.sarif, toolVersion: "fuzz")
    if let policy = result.policy {
        _ = try? CompiledPolicy(policy)
    }
}

/// Fixed inputs that keep runs deterministic.
private enum FuzzInput {
    /// A file in a directory that does not exist, so relative
    /// `price_sources` never reach real files.
    static let file = "/nonexistent-purser-fuzz/fuzz.yaml"
    /// 2026-11-23T10:00:00Z, for exception expiry checks.
    static let now = Timestamp(seconds: 1_795_428_000)
}
