import PurserCore
import PurserYAML
import Foundation

/// What every `purser check` diagnostic means, with examples that trigger it
/// and examples that do not. The examples run as tests and generate
/// `docs/checks.md`, so the documentation cannot drift from the behaviour.
package enum CheckCatalog {
    /// The description of one diagnostic code.
    package struct Entry: Sendable {
        /// The code.
        package let code: DiagnosticCode
        /// Where in the pipeline it is found.
        package let stage: Stage
        /// One line on what it means.
        package let summary: String
        /// Policies (file sets) that raise it.
        package let triggering: [Example]
        /// Policies that do not raise it (and raise nothing else either).
        package let nonTriggering: [Example]
    }

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

    /// The entry for a code.
    package static func entry(for code: DiagnosticCode) -> Entry? {
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

    /// Every code, input stage first.
    package static let entries: [Entry] = [
        Entry(
            code: .yamlSyntax, stage: .input,
            summary: "The file is not well-formed YAML (libyaml's message, with the line and column where it failed).",
            triggering: [.policy("version: 1\nmodels: [gpt-5-mini\n"), .policy("version: 1\nmodels:\n  a: b: c\n")],
            nonTriggering: [.policy(base)]),
        Entry(
            code: .duplicateKey, stage: .input,
            summary: "A mapping has the same key twice; keys are compared as written, so `a` and `\"a\"` collide.",
            triggering: [.policy("version: 1\nversion: 1\n"), .policy(base + "  \"dev\": {}\n")],
            nonTriggering: [.policy(base + "  staging: {}\n")]),
        Entry(
            code: .yamlNestingDepth, stage: .input,
            summary: "Sequences and mappings nest deeper than 64 levels.",
            triggering: [.policy("version: 1\nx: " + String(repeating: "[", count: 65) + String(repeating: "]", count: 65) + "\n")],
            nonTriggering: [.policy(base)]),
        Entry(
            code: .yamlAlias, stage: .input,
            summary: "Aliases expand to more than 10,000 nodes in a document (a \"billion laughs\"), or name no anchor.",
            triggering: [
                .policy("""
                    version: 1
                    a: &a [x, x, x, x, x, x, x, x, x, x]
                    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
                    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
                    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
                    e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]

                    """),
                .policy("version: 1\nmodels: *undefined\n"),
            ],
            nonTriggering: [
                .policy("""
                    version: 1
                    models:
                      gpt-5-mini:
                        provider: openai
                        tier: small
                        price: {input: 0.25, output: 2.00}
                    environments:
                      dev: {models: &cheap [gpt-5-mini]}
                      qa: {models: *cheap}

                    """),
            ]),
        Entry(
            code: .yamlMergeKey, stage: .input,
            summary: "A `<<` merge key; Purser does not merge mappings implicitly, so write the keys out.",
            triggering: [.policy(base + "  qa:\n    <<: {tiers: [small]}\n")],
            nonTriggering: [.policy(base + "  qa:\n    tiers: [small]\n")]),
        Entry(
            code: .yamlTag, stage: .input,
            summary: "An explicit tag other than `!!str`, `!!seq` or `!!map`; values are typed by the policy schema.",
            triggering: [.policy("version: 1\nmodels: !include models.yaml\n"), .policy("version: !!int 1\n")],
            nonTriggering: [.policy(base)]),
        Entry(
            code: .yamlEncoding, stage: .input,
            summary: "The file is not UTF-8 (invalid bytes, or UTF-16 with a byte order mark).",
            triggering: [
                .files([("policy.yaml", .bytes(Array("version: 1\nteams:\n  caf".utf8) + [0xE9] + Array(": {}\n".utf8), shown: "version: 1\nteams:\n  caf\\xE9: {}    # Latin-1 é"))]),
            ],
            nonTriggering: [.policy("version: 1\nteams:\n  café: {}\n")]),
        Entry(
            code: .yamlControlCharacter, stage: .input,
            summary: "A NUL byte or another control character YAML does not allow.",
            triggering: [
                .files([("policy.yaml", .bytes(Array("version: 1\n".utf8) + [0] + Array("\n".utf8), shown: "version: 1\n\\0"))]),
            ],
            nonTriggering: [.policy(base)]),
        Entry(
            code: .yamlComplexKey, stage: .input,
            summary: "A mapping key that is itself a list or mapping.",
            triggering: [.policy("version: 1\n? [a, b]\n: 1\n")],
            nonTriggering: [.policy(base)]),
        Entry(
            code: .fileTooLarge, stage: .input,
            summary: "A policy file is larger than 16 MiB, or the files together larger than 32 MiB (`--max-policy-bytes`); refused before being read.",
            triggering: [.files([("policy.yaml", .large(bytes: 17 * 1024 * 1024))])],
            nonTriggering: [.policy(base)]),
        Entry(
            code: .unreadableFile, stage: .input,
            summary: "A path does not exist or cannot be read (a dangling symlink, missing permission, a symlink out of the policy directory); a name that is not UTF-8 is skipped with a warning.",
            triggering: [
                .files([("policy.yaml", .symlink(to: "missing.yaml"))]), .files([], check: "no-such-dir"),
                .files([("policies/base.yaml", .text(base)), ("policies/shared.yaml", .symlink(to: "../elsewhere/shared.yaml")),
                        ("elsewhere/shared.yaml", .text("version: 1\n"))], check: "policies"),
            ],
            nonTriggering: [.policy(base)]),
        Entry(
            code: .symlinkLoop, stage: .input,
            summary: "A symlink points back to itself or to a directory being read.",
            triggering: [
                .files([("policy.yaml", .symlink(to: "policy.yaml"))]),
                .files([("policies/base.yaml", .text(base)), ("policies/again", .symlink(to: "."))], check: "policies"),
            ],
            nonTriggering: [.files([("shared/base.yaml", .text(base)), ("policies", .symlink(to: "shared"))], check: "policies")]),
        Entry(
            code: .noPolicies, stage: .input,
            summary: "A directory holds no `*.yaml` or `*.yml` policy files (test files do not count).",
            triggering: [.files([("policies", .directory)], check: "policies"), .files([("policies/a.test.yaml", .text("version: 1\ntests: []\n"))], check: "policies")],
            nonTriggering: [.files([("policies/base.yaml", .text(base))], check: "policies")]),
        Entry(
            code: .priceSource, stage: .input,
            summary: "A `price_sources` file cannot be read, lies outside the policy paths (without `--allow-outside-root`), or is not LiteLLM price JSON.",
            triggering: [
                .policy("version: 1\nprice_sources: [prices.json]\n"),
                .files([("policy.yaml", .text("version: 1\nprice_sources: [prices.json]\n")), ("prices.json", .text("{\"gpt-5\": {\"input_cost_per_token\": 1.25e-06,}}"))]),
                .files([("policies/policy.yaml", .text("version: 1\nprice_sources: [/etc/passwd]\n"))], check: "policies"),
            ],
            nonTriggering: [
                .files([
                    ("policy.yaml", .text("version: 1\nprice_sources: [prices.json]\nmodels:\n  gpt-5:\n    tier: frontier\n")),
                    ("prices.json", .text("{\"gpt-5\": {\"input_cost_per_token\": 1.25e-06, \"output_cost_per_token\": 1e-05, \"litellm_provider\": \"openai\"}}")),
                ]),
            ]),
        Entry(
            code: .unsupportedVersion, stage: .schema,
            summary: "A fragment's `version` is not 1.",
            triggering: [.policy("version: 2\n"), .policy("version: \"1\"\n")],
            nonTriggering: [.policy(base)]),
        Entry(
            code: .unknownKey, stage: .schema,
            summary: "A key the policy language does not have; the message suggests the nearest valid key.",
            triggering: [.policy("version: 1\nmodles: {}\n"), .policy(base.replacingOccurrences(of: "tier: small", with: "tier: small\n    teir: small"))],
            nonTriggering: [.policy(base)]),
        Entry(
            code: .missingKey, stage: .schema,
            summary: "A required key is missing: `version`, a model's `tier`, a budget's `id`/`scope`/`period`/cap, an exception's `expires`.",
            triggering: [.policy("models: {}\n"), .policy("version: 1\nmodels:\n  gpt-5-mini: {provider: openai}\n")],
            nonTriggering: [.policy(base)]),
        Entry(
            code: .wrongType, stage: .schema,
            summary: "A value has the wrong type for its key; scalars are typed by the schema (`NO` stays a string, `0755` is not a number).",
            triggering: [
                .policy(base + "budgets:\n  - {id: b, scope: org, period: month, limit: \"100\"}\n"),
                .policy(base + "budgets:\n  - {id: b, scope: org, period: month, limit: 0755}\n"),
                .policy("version: 1\nsettings: {reroute: yes}\n"),
            ],
            nonTriggering: [.policy(base + "budgets:\n  - {id: b, scope: org, period: month, limit: 100}\n")]),
        Entry(
            code: .invalidValue, stage: .schema,
            summary: "A value of the right type that is not allowed: an unknown choice, a negative amount, a bad time zone or duration.",
            triggering: [
                .policy(base + "budgets:\n  - {id: b, scope: org, period: month, limit: 100, on_exceed: block}\n"),
                .policy("version: 1\nsettings: {timezone: Mars/Olympus}\n"),
            ],
            nonTriggering: [.policy(base + "budgets:\n  - {id: b, scope: org, period: month, limit: 100, on_exceed: warn}\n")]),
        Entry(
            code: .invalidCondition, stage: .schema,
            summary: "A `when`/`unless` names an unknown attribute or operator, or an operator that does not fit the attribute.",
            triggering: [
                .policy(base + "rules:\n  - {id: r, when: {enviroment: dev}}\n"),
                .policy(base + "rules:\n  - {id: r, when: {input_tokens: {greater: 5}}}\n"),
            ],
            nonTriggering: [.policy(base + "rules:\n  - {id: r, when: {environment: dev, input_tokens: {gt: 5}}}\n")]),
        Entry(
            code: .duplicateDefinition, stage: .schema,
            summary: "A model, alias, environment, team, budget, rule or exception is defined twice (in one file or across files); both places are named.",
            triggering: [
                .files([("policies/a.yaml", .text(base)), ("policies/b.yaml", .text("version: 1\nenvironments:\n  dev: {}\n"))], check: "policies"),
            ],
            nonTriggering: [
                .files([("policies/a.yaml", .text(base)), ("policies/b.yaml", .text("version: 1\nenvironments:\n  qa: {}\n"))], check: "policies"),
            ]),
        Entry(
            code: .emptyFile, stage: .schema,
            summary: "A policy file holds no document (only comments or nothing).",
            triggering: [.files([("policies/a.yaml", .text(base)), ("policies/b.yaml", .text("# TODO\n"))], check: "policies")],
            nonTriggering: [.files([("policies/a.yaml", .text(base))], check: "policies")]),
        Entry(
            code: .undefinedReference, stage: .meaning,
            summary: "A name that is not defined: a model, environment, team, region, tier, provider, price key, or a `waives` id.",
            triggering: [
                .policy(base + "  qa: {models: [gpt-5-mnii]}\n"),
                .policy(base + "teams:\n  payments: {environments: [prod]}\n"),
                .policy(base.replacingOccurrences(of: "tier: small", with: "tier: tiny")),
            ],
            nonTriggering: [.policy(base + "  qa: {models: [gpt-5-mini]}\nteams:\n  payments: {environments: [dev, qa]}\n")]),
        Entry(
            code: .fallbackCycle, stage: .meaning,
            summary: "Model fallbacks loop (a → b → a), or a model or region falls back to itself.",
            triggering: [
                .policy("""
                    version: 1
                    models:
                      a: {provider: p, tier: small, price: {input: 1, output: 1}, fallbacks: [b]}
                      b: {provider: p, tier: small, price: {input: 1, output: 1}, fallbacks: [a]}

                    """),
                .policy("version: 1\nregions:\n  allowed: [us-east-1]\n  fallbacks: {us-east-1: [us-east-1]}\n"),
            ],
            nonTriggering: [
                .policy("""
                    version: 1
                    models:
                      a: {provider: p, tier: small, price: {input: 1, output: 1}, fallbacks: [b]}
                      b: {provider: p, tier: small, price: {input: 1, output: 1}}

                    """),
            ]),
        Entry(
            code: .unusableFallback, stage: .meaning,
            summary: "A fallback that can never be used: approved in no environment, never served where it is needed, or `settings.reroute` is false.",
            triggering: [
                .policy("""
                    version: 1
                    models:
                      a: {provider: p, tier: frontier, price: {input: 1, output: 1}, fallbacks: [b]}
                      b: {provider: p, tier: standard, price: {input: 1, output: 1}}
                    environments:
                      qa: {tiers: [small, frontier]}

                    """),
                .policy("""
                    version: 1
                    settings: {reroute: false}
                    models:
                      a: {provider: p, tier: small, price: {input: 1, output: 1}, fallbacks: [b]}
                      b: {provider: p, tier: small, price: {input: 1, output: 1}}

                    """),
            ],
            nonTriggering: [
                .policy("""
                    version: 1
                    models:
                      a: {provider: p, tier: frontier, price: {input: 1, output: 1}, fallbacks: [b]}
                      b: {provider: p, tier: standard, price: {input: 1, output: 1}}
                    environments:
                      qa: {tiers: [small, standard]}

                    """),
            ]),
        Entry(
            code: .unpricedBudgetedModel, stage: .meaning,
            summary: "A model has no price, yet a USD budget applies to it, so its requests cannot be costed.",
            triggering: [.policy("version: 1\nmodels:\n  local-llama: {provider: self-hosted, tier: small}\nbudgets:\n  - {id: org-month, scope: org, period: month, limit: 1000}\n")],
            nonTriggering: [
                .policy("version: 1\nmodels:\n  local-llama: {provider: self-hosted, tier: small, price: {input: 0, output: 0}}\nbudgets:\n  - {id: org-month, scope: org, period: month, limit: 1000}\n"),
                .policy("version: 1\nmodels:\n  local-llama: {provider: self-hosted, tier: small}\nbudgets:\n  - {id: org-tokens, scope: org, period: day, tokens: 5000000}\n"),
            ]),
        Entry(
            code: .expiredException, stage: .meaning,
            summary: "An exception's `expires` has passed; it waives nothing any more and should be removed or renewed.",
            triggering: [.policy(base + "exceptions:\n  - {id: EXC-1, waives: [environment-model], expires: 2026-01-31, reason: pilot}\n")],
            nonTriggering: [.policy(base + "exceptions:\n  - {id: EXC-1, waives: [environment-model], expires: 2027-06-30, reason: pilot}\n")]),
        Entry(
            code: .expiringException, stage: .meaning,
            summary: "An exception expires within 14 days.",
            triggering: [.policy(base + "exceptions:\n  - {id: EXC-1, waives: [environment-model], expires: 2026-11-30, reason: pilot}\n")],
            nonTriggering: [.policy(base + "exceptions:\n  - {id: EXC-1, waives: [environment-model], expires: 2027-06-30, reason: pilot}\n")]),
        Entry(
            code: .unmatchableCondition, stage: .meaning,
            summary: "A rule, budget or exception whose condition can never hold (contradictory ranges, a model of another tier, an always-true `unless`).",
            triggering: [
                .policy(base + "rules:\n  - {id: r, when: {input_tokens: {gt: 100, lt: 50}}}\n"),
                .policy(base + "rules:\n  - {id: r, when: {model: gpt-5-mini, tier: frontier}}\n"),
                .policy(base + "rules:\n  - {id: r, when: {environment: dev}, unless: {}}\n"),
            ],
            nonTriggering: [.policy(base + "rules:\n  - {id: r, when: {input_tokens: {gt: 50, lt: 100}}}\n")]),
    ]
}
