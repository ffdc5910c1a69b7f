import PurserCore
import PurserYAML

/// A validated, immutable policy set: every fragment of every file merged.
///
/// Load one with ``PolicySet/load(paths:options:)``; it is `Sendable`, so a
/// gateway loads it once and shares it across threads.
public struct PolicySet: Sendable {
    /// `settings`, defaulted when no fragment sets them.
    package let settings: Settings
    /// The model catalog, in definition order.
    package let models: [ModelDefinition]
    /// Environments, in definition order.
    package let environments: [EnvironmentDefinition]
    /// Teams, in definition order.
    package let teams: [TeamDefinition]
    /// Budgets: the `budgets` section, then the teams' shorthand budgets.
    package let budgets: [BudgetDefinition]
    /// The `regions` section.
    package let regions: RegionPolicy
    /// Custom rules, in definition order.
    package let rules: [RuleDefinition]
    /// Exceptions, in definition order.
    package let exceptions: [ExceptionDefinition]
    /// The policy files read, in the order read.
    public let files: [String]
    /// `sha256:` and the hex digest of every file's path and bytes (price sources included).
    public let revision: String

    /// The model with a canonical name.
    package func model(named name: String) -> ModelDefinition? {
        models.first { $0.name == name }
    }

    /// The environment with a name.
    package func environment(named name: String) -> EnvironmentDefinition? {
        environments.first { $0.name == name }
    }

    /// The team with a name.
    package func team(named name: String) -> TeamDefinition? {
        teams.first { $0.name == name }
    }

    /// The budget with an id (shorthand ids included).
    package func budget(id: String) -> BudgetDefinition? {
        budgets.first { $0.id == id }
    }
}

/// What loading a policy set produced: the policy when it is valid, and
/// every diagnostic in file, line, column order.
public struct PolicyLoadResult: Sendable {
    /// The policy, or nil when any error was found.
    public let policy: PolicySet?
    /// Errors and warnings, sorted.
    public let diagnostics: [Diagnostic]
    /// The files that were read (policy files and price sources).
    public let files: [String]

    package init(policy: PolicySet?, diagnostics: [Diagnostic], files: [String]) {
        self.policy = policy
        self.diagnostics = diagnostics
        self.files = files
    }

    /// The number of errors.
    public var errorCount: Int { diagnostics.count { $0.severity == .error } }
    /// The number of warnings.
    public var warningCount: Int { diagnostics.count { $0.severity == .warning } }
    /// Whether some input could not be read or parsed at all (exit code 2).
    public var hasInputErrors: Bool { diagnostics.contains { $0.code.isInputError && $0.severity == .error } }
}

/// How to load a policy set.
public struct PolicyLoadOptions: Sendable {
    /// The YAML hardening limits (docs/policy-language.md, "Input limits").
    public var yamlLimits = YAMLReader.Limits()
    /// "Now", for exception expiry checks; the system clock unless set.
    public var now: Timestamp?
    /// Days before expiry that an exception is reported as expiring (14).
    public var expiryWarningDays = 14
    /// The most bytes of YAML all the files of a policy set may hold together (32 MiB; each
    /// file is also limited by ``yamlLimits``). See docs/policy-language.md, "Input limits".
    public var maxTotalBytes = 32 * 1024 * 1024
    /// Whether symlinks under a policy directory and `price_sources` may lead outside the
    /// directories given (off: such reads are refused; `--allow-outside-root`).
    public var allowOutsideRoots = false
    /// The real paths reads are kept inside, set by ``PolicySet/load(paths:options:)``; nil: anywhere.
    package var readRoots: [String]?

    /// The defaults.
    public init() {}
}
