import PurserCore
import PurserYAML

extension DiagnosticCode {
    /// A policy file is larger than 16 MiB, or the files together larger than 32 MiB (`--max-policy-bytes`); refused before being read.
    package static let fileTooLarge = FileTooLarge.code
}

/// `file-too-large`: refused before being read (``PolicyFiles/read(_:limit:)``), by the
/// loader once the files together pass `maxTotalBytes`, or by the YAML reader.
package enum FileTooLarge: YAMLReaderRule {
    package static let readerKind = YAMLError.Kind.tooLarge

    package static let description = RuleDescription(
        id: "file-too-large", stage: .input,
        summary: "A policy file is larger than 16 MiB, or the files together larger than 32 MiB (`--max-policy-bytes`); refused before being read.",
        triggering: [.files([("policy.yaml", .large(bytes: 17 * 1024 * 1024))])],
        nonTriggering: [.policy(CheckCatalog.base)])

    /// The file's size, seen before reading, is over the limit.
    package static func size(_ size: some BinaryInteger, limit: Int) -> Finding {
        finding("the file is \(size) bytes; the limit is \(byteCount(limit))")
    }

    /// The file grew past the limit while it was read.
    package static func grew(limit: Int) -> Finding {
        finding("the file is larger than the limit of \(byteCount(limit))")
    }

    /// The files read so far and this one together are over `maxTotalBytes`.
    package static func total(limit: Int, read: Int) -> Finding {
        finding("the policy files together are larger than the limit of \(limit) bytes (maxTotalBytes, --max-policy-bytes); \(read) bytes were read before this file")
    }
}
