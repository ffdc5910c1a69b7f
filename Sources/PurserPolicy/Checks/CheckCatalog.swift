import PurserCore
import PurserYAML
import Foundation

/// What every `purser check` diagnostic means, with examples that trigger it
/// and examples that do not. The examples run as tests and generate
/// `docs/checks.md`, so the documentation cannot drift from the behaviour.
///
/// Each code is one ``CheckRule`` type in `Checks/Rules/`; ``rules`` lists them
/// once, and ``DiagnosticCode/all``, the catalog, the meaning checks that
/// ``PolicyValidator`` runs and the YAML error mapping are derived from it.
package enum CheckCatalog {
    /// Every rule, in catalog order: input stage first, then schema, then meaning.
    /// Adding a code is adding its file under `Rules/` and one line here.
    package static let rules: [any CheckRule.Type] = [
        // Input: reading files and YAML (exit code 2).
        YAMLSyntax.self, DuplicateKey.self, YAMLNestingDepth.self, YAMLAlias.self, YAMLMergeKey.self, YAMLTag.self,
        YAMLEncoding.self, YAMLControlCharacter.self, YAMLComplexKey.self, FileTooLarge.self, UnreadableFile.self,
        SymlinkLoop.self, NoPolicies.self, PriceSource.self,
        // Schema: decoding the policy language.
        UnsupportedVersion.self, UnknownKey.self, MissingKey.self, WrongType.self, InvalidValue.self,
        InvalidCondition.self, DuplicateDefinition.self, EmptyFile.self,
        // Meaning: checking what the assembled policy says.
        UndefinedReference.self, FallbackCycle.self, UnusableFallback.self, UnpricedBudgetedModel.self,
        ExpiredException.self, ExpiringException.self, UnmatchableCondition.self,
    ]

    /// Every code's description, in catalog order.
    package static let entries: [RuleDescription] = rules.map { $0.description }

    /// The rules that check an assembled policy set, in catalog order.
    package static let policySetRules: [any CheckRule.Type] = rules.filter { $0.checksPolicySet }

    /// The code of each YAML reader error kind.
    package static let yamlCodes: [YAMLError.Kind: DiagnosticCode] = Dictionary(
        rules.compactMap { rule in rule.yamlErrorKind.map { ($0, rule.code) } },
        uniquingKeysWith: { first, _ in first })

    /// The stage of loading a code belongs to.
    package enum Stage: String, Sendable {
        /// Reading files and YAML (exit code 2).
        case input
        /// Decoding the policy language.
        case schema
        /// Checking what the policy means.
        case meaning
    }

    /// A set of files to check, as a test fixture and a documentation example.
    package struct Example: Sendable {
        /// One entry of the example's directory.
        package struct File: Sendable {
            /// The path inside the example directory.
            package let path: String
            /// What the entry is.
            package let content: Content
        }

        /// What an entry of the example directory is.
        package enum Content: Sendable {
            /// A UTF-8 text file.
            case text(String)
            /// A file with exactly these bytes.
            case bytes([UInt8], shown: String)
            /// A file of this many bytes of YAML comments.
            case large(bytes: Int)
            /// A symbolic link to a path relative to the example directory.
            case symlink(to: String)
            /// An empty directory.
            case directory
        }

        /// The entries to create, in order.
        package let files: [File]
        /// The path `purser check` is given, relative to the example directory.
        package let checkPath: String

        /// A single policy file, `policy.yaml`.
        package static func policy(_ text: String) -> Example {
            Example(files: [File(path: "policy.yaml", content: .text(text))], checkPath: ".")
        }

        /// Several entries, checked together.
        package static func files(_ files: [(String, Content)], check path: String = ".") -> Example {
            Example(files: files.map { File(path: $0.0, content: $0.1) }, checkPath: path)
        }
    }

    /// The instant examples are checked at, so that expiry examples are stable.
    package static let exampleNow = Timestamp(seconds: 1_795_435_200)  // 2026-11-23T12:00:00Z

    /// The description of a code.
    package static func entry(for code: DiagnosticCode) -> RuleDescription? {
        entries.first { $0.code == code }
    }

    /// The id nearest to a mistyped one, if any is close.
    package static func suggestion(for id: String) -> String? {
        TextMatching.suggestion(for: id, among: entries.map(\.code.id))
    }

    /// A minimal valid policy the examples build on.
    package static let base = """
        version: 1
        models:
          gpt-5-mini:
            provider: openai
            tier: small
            price: {input: 0.25, output: 2.00}
        environments:
          dev: {}

        """

    /// Models `a` and `b` of provider `p`, `a` falling back to `b` (and `b` to `a` when
    /// `loop`), for the fallback examples; `settings` goes before the models, `after` after.
    package static func fallbackPair(_ a: String = "small", _ b: String = "small", loop: Bool = false,
                                     settings: String = "", after: String = "") -> String
    {
        "version: 1\n\(settings)models:\n"
            + "  a: {provider: p, tier: \(a), price: {input: 1, output: 1}, fallbacks: [b]}\n"
            + "  b: {provider: p, tier: \(b), price: {input: 1, output: 1}\(loop ? ", fallbacks: [a]" : "")}\n"
            + after
    }
}
