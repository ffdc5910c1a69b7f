/// Why a YAML input was rejected, with the place it was rejected at.
///
/// Every rule of the input hardening (docs/policy-language.md, "Input limits") has
/// its own ``Kind`` so that a caller can turn it into a stable diagnostic code.
public struct YAMLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The rule the input broke.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// libyaml could not parse the input.
        case syntax = "yaml-syntax"
        /// A mapping holds the same key twice (compared as raw text).
        case duplicateKey = "duplicate-key"
        /// Sequences and mappings nest deeper than the limit.
        case nestingTooDeep = "yaml-nesting-depth"
        /// Aliases expand to more nodes than the limit, or name no anchor.
        case aliasExpansion = "yaml-alias"
        /// A `<<` merge key.
        case mergeKey = "yaml-merge-key"
        /// An explicit tag other than `!!str`, `!!seq` or `!!map`.
        case customTag = "yaml-tag"
        /// Bytes that are not UTF-8 (including UTF-16 or UTF-32 input).
        case invalidEncoding = "yaml-encoding"
        /// A NUL byte or another control character YAML forbids.
        case controlCharacter = "yaml-control-character"
        /// A mapping key that is a sequence or a mapping.
        case complexKey = "yaml-complex-key"
        /// The input is larger than the size limit.
        case tooLarge = "file-too-large"
    }

    /// The rule the input broke.
    public let kind: Kind
    /// What is wrong, in one sentence, without location.
    public let message: String
    /// Where it is wrong.
    public let mark: YAMLMark

    /// Creates an error.
    public init(_ kind: Kind, _ message: String, at mark: YAMLMark) {
        self.kind = kind
        self.message = message
        self.mark = mark
    }

    public var description: String { "\(mark): \(message) [\(kind.rawValue)]" }
}
