import Foundation
import Testing
import PurserPolicy
import PurserCore
import PurserTestSupport

@Suite("Policy decoding")
struct PolicyDecodingTests {
    static let full = """
        version: 1
        settings:
          timezone: Europe/Berlin
          tiers: [small, standard, frontier]
          unknown_model: warn
          unpriced_model: allow
          reservation_ttl: 90s
          reroute: false
        models:
          claude-opus-4-5:
            provider: anthropic
            tier: frontier
            price: {input: 5.00, output: 25.00, cached_input: 0.50, cache_write: 6.25}
            regions: [us-east-1, eu-central-1]
            aliases: [claude-opus-4-5-20251101]
            fallbacks: [claude-sonnet-4-5]
          claude-sonnet-4-5:
            provider: anthropic
            tier: standard
            price: {input: 3, output: 15}
        environments:
          production:
            models: [claude-opus-4-5, "claude-*"]
          qa:
            tiers: [small, standard]
            exclude: [claude-opus-4-5-20251101]
            regions: [us-east-1]
        teams:
          payments:
            environments: [production, qa]
            regions: [eu-central-1]
            budget: {month: 5000, day: 400.50}
            max_request_cost: 2.00
        budgets:
          - id: qa-daily
            scope: [team, environment]
            when: {environment: qa, input_tokens: {gte: 10}, hour: {lt: 18}, weekday: [mon, TUE]}
            period: day
            limit: 50
            limits: {payments/qa: 75}
            alerts: [0.8, 0.5]
            on_exceed: warn
        regions:
          allowed: [us-east-1, eu-central-1, eu-west-1]
          fallbacks:
            eu-central-1: [eu-west-1]
        rules:
          - id: big-prompts
            when: {input_tokens: {gt: 100000}, cost: {gte: 0.5}}
            unless: {tags.ticket: {exists: true}}
            effect: warn
            severity: high
            enforcement: audit
            message: big
        exceptions:
          - id: EXC-1
            waives: [environment-model, qa-daily]
            when: {team: payments}
            expires: 2027-01-31
            reason: trial
        """

    @Test func decodesEveryKey() throws {
        let result = load(Self.full)
        #expect(result.diagnostics.filter { $0.severity == .error }.isEmpty, "\(result.diagnostics)")
        let policy = try #require(result.policy)
        #expect(policy.settings.timezoneIdentifier == "Europe/Berlin")
        #expect(policy.settings.unknownModel == .warn)
        #expect(policy.settings.unpricedModel == .allow)
        #expect(policy.settings.reservationTTLSeconds == 90)
        #expect(policy.settings.reroute == false)

        let opus = try #require(policy.model(named: "claude-opus-4-5"))
        #expect(opus.provider == "anthropic")
        #expect(opus.tier.value == "frontier")
        #expect(opus.price?.cacheWrite.perMillionDescription == "6.25")
        #expect(opus.aliases.map(\.value) == ["claude-opus-4-5-20251101"])
        #expect(opus.location == SourceLocation(file: "policy.yaml", line: 10, column: 3))
        let sonnet = try #require(policy.model(named: "claude-sonnet-4-5"))
        #expect(sonnet.price?.cachedInput == sonnet.price?.input, "cached input defaults to the input price")

        let qa = try #require(policy.environment(named: "qa"))
        #expect(qa.tiers?.map(\.value) == ["small", "standard"])
        #expect(qa.models == nil)

        let payments = try #require(policy.team(named: "payments"))
        #expect(payments.maxRequestCost?.value == USD(dollars: 2))
        #expect(payments.budget.map(\.period) == [.month, .day])

        let month = try #require(policy.budget(id: "team.payments.month"))
        #expect(month.scope == [.team])
        #expect(month.limits.usd == USD(dollars: 5000))
        #expect(month.team == "payments")
        #expect(month.onExceed == .deny)
        #expect(policy.budget(id: "team.payments.day")?.limits.usd == USD("400.5"))

        let qaDaily = try #require(policy.budget(id: "qa-daily"))
        #expect(qaDaily.scope == [.team, .environment])
        #expect(qaDaily.alerts == [500_000, 800_000], "alerts are sorted, in parts per million")
        #expect(qaDaily.limits(forKey: "payments/qa").usd == USD(dollars: 75))
        #expect(qaDaily.limits(forKey: "other/qa").usd == USD(dollars: 50))
        #expect(qaDaily.onExceed == .warn)
        let clauses = try #require(qaDaily.when?.clauses)
        #expect(clauses.map(\.attribute) == [.environment, .inputTokens, .hour, .weekday])
        #expect(clauses[3].matchers[0].operands.map(\.value) == [.text("mon"), .text("tue")])

        let rule = try #require(policy.rules.first)
        #expect(rule.enforcement == .audit)
        #expect(rule.effect == .warn)
        #expect(rule.severity == .high)
        #expect(rule.when?.clauses[1].matchers[0].operands[0].value == .integer(500_000_000), "cost is in nano-USD")
        #expect(rule.unless?.clauses[0].attribute == .tag("ticket"))

        let exception = try #require(policy.exceptions.first)
        #expect(exception.expires.value == .date(year: 2027, month: 1, day: 31))
        #expect(policy.regions.fallbacks.first?.targets.map(\.value) == ["eu-west-1"])
        #expect(policy.revision.hasPrefix("sha256:") && policy.revision.count == 71)
    }

    @Test func defaultsApplyWithoutSettings() throws {
        let policy = try #require(load(CheckCatalog.base).policy)
        #expect(policy.settings.timezoneIdentifier == "UTC")
        #expect(policy.settings.tiers.map(\.value) == ["small", "standard", "frontier"])
        #expect(policy.settings.unknownModel == .deny)
        #expect(policy.settings.reservationTTLSeconds == 600)
        #expect(policy.settings.reroute)
    }

    /// `settings.budget_leases`: absent is off, present (even empty) is on with the defaults, and
    /// each bad value is reported where it is written, with its range.
    @Test func budgetLeasesTurnOnWithTheirDefaultsAndRefuseBadValues() throws {
        #expect(try #require(load(CheckCatalog.base).policy).settings.budgetLeases == nil)
        let empty = try #require(load("version: 1\nsettings:\n  budget_leases: {}\n").policy)
        #expect(empty.settings.budgetLeases == Settings.BudgetLeases())
        let set = try #require(load("version: 1\nsettings:\n  budget_leases: {slice: 0.1, max_calls: 50, duration: 1m}\n").policy)
        #expect(set.settings.budgetLeases?.slicePPM == 100_000 && set.settings.budgetLeases?.maxCalls == 50
                && set.settings.budgetLeases?.durationSeconds == 60)
        for (value, line) in [("slice: 0", "slice"), ("slice: 1.5", "slice"), ("max_calls: 0", "max_calls"),
                              ("max_calls: 2000000", "max_calls"), ("duration: 2h", "duration"), ("duration: soon", "duration")] {
            let result = load("version: 1\nsettings:\n  budget_leases:\n    \(value)\n")
            let diagnostic = try #require(result.diagnostics.first, "\(value)")
            #expect(result.policy == nil && diagnostic.code.id == "invalid-value", "\(value): \(diagnostic)")
            #expect(diagnostic.location.line == 4 && diagnostic.message.contains("settings.budget_leases.\(line)"), "\(diagnostic)")
        }
    }

    @Test(arguments: [
        ("version: 1\nsettings: {reroute: NO}\n", "wrong-type", "only true and false are booleans"),
        ("version: 1\nteams:\n  NO: {}\n", nil, nil),
        ("version: 1\nbudgets:\n  - {id: b, scope: org, period: month, limit: 0755}\n", "wrong-type", "leading zero"),
        ("version: 1\nbudgets:\n  - {id: b, scope: org, period: month, limit: '5'}\n", "wrong-type", "remove the quotes"),
        ("version: 1\nbudgets:\n  - {id: b, scope: org, period: month, limit: -5}\n", "invalid-value", "negative"),
        ("version: 1\nbudgets:\n  - {id: b, scope: org, period: month, limit: 1_000}\n", "wrong-type", "'_'"),
        ("version: 1\nbudgets:\n  - {id: b, scope: org, period: montly, limit: 5}\n", "invalid-value", "did you mean \"monthly\""),
    ] as [(String, String?, String?)])
    func typesScalarsBySchema(yaml: String, code: String?, fragment: String?) {
        let result = load(yaml)
        if let code {
            let diagnostic = result.diagnostics.first { $0.code.id == code }
            #expect(diagnostic != nil, "\(result.diagnostics)")
            if let fragment, let diagnostic, fragment != "did you mean \"monthly\"" {
                #expect(diagnostic.message.contains(fragment), "\(diagnostic.message)")
            }
        } else {
            #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
            #expect(result.policy?.team(named: "NO") != nil, "NO stays the string NO")
        }
    }

    @Test func unknownKeysSuggestTheNearest() throws {
        let result = load("version: 1\nteams:\n  payments:\n    budegt: {month: 5}\n")
        let diagnostic = try #require(result.diagnostics.first)
        #expect(diagnostic.description == "policy.yaml:4:5: error: unknown key \"budegt\" in teams.payments; did you mean \"budget\"? [unknown-key]")
    }

    @Test func unknownKeysWithoutNeighbourListValidKeys() throws {
        let result = load("version: 1\nteams:\n  payments:\n    zzz: 1\n")
        #expect(try #require(result.diagnostics.first).message.contains("valid keys: environments, models"))
    }

    @Test func reportsEveryProblemNotJustTheFirst() {
        let result = load("version: 1\nmodels:\n  a: {provider: p}\n  b: {provider: p, tier: 5x, zz: 1}\nteams: []\n")
        // tier "5x" decodes as a name, then is an undefined tier; `teams: []` has the wrong type.
        #expect(codes(result).sorted() == ["missing-key", "undefined-reference", "unknown-key", "wrong-type"])
    }

    @Test func duplicatesAcrossFilesNameBothPlaces() throws {
        let result = PolicySet.load(files: [
            ("a.yaml", Array(CheckCatalog.base.utf8)),
            ("b.yaml", Array("version: 1\nmodels:\n  gpt-5-mini: {provider: openai, tier: small}\n".utf8)),
        ])
        let diagnostic = try #require(result.diagnostics.first { $0.code == .duplicateDefinition })
        #expect(diagnostic.location == SourceLocation(file: "b.yaml", line: 3, column: 3))
        #expect(diagnostic.message.contains("a.yaml:3:3"))
        #expect(result.policy == nil)
    }

    @Test func aliasesMayNotShadowModels() {
        let result = load(CheckCatalog.base + "models:\n  x: {provider: p, tier: small, aliases: [gpt-5-mini]}\n")
        // `models` twice in one document is a duplicate key; in two documents it is a duplicate alias.
        #expect(codes(result).contains("duplicate-key"))
        let split = load(CheckCatalog.base + "---\nversion: 1\nmodels:\n  x: {provider: p, tier: small, price: {input: 1, output: 1}, aliases: [gpt-5-mini]}\n")
        #expect(codes(split) == ["duplicate-definition"])
    }

    @Test func theRevisionDoesNotDependOnWhereThePolicyLives() throws {
        let relative = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try FileManager.default.copyItem(atPath: repositoryRoot + "/policies", toPath: directory + "/elsewhere")
        let moved = try #require(PolicySet.load(paths: [directory + "/elsewhere/"]).policy)
        #expect(relative.revision == moved.revision)
        try Data("# a comment changes the bytes\n".utf8).write(to: URL(fileURLWithPath: directory + "/elsewhere/settings.yaml"), options: .atomic)
        let changed = PolicySet.load(paths: [directory + "/elsewhere"])
        #expect(changed.policy?.revision != relative.revision)
    }

    @Test func settingsMayAppearOnce() {
        let result = load("version: 1\nsettings: {reroute: true}\n---\nversion: 1\nsettings: {reroute: false}\n")
        #expect(codes(result) == ["duplicate-definition"])
    }

    @Test func conditionsRejectUnknownAttributesAndMisfitOperators() {
        let result = load(CheckCatalog.base + """
            rules:
              - {id: a, when: {teem: x}}
              - {id: b, when: {team: {gt: x}}}
              - {id: c, when: {input_tokens: {glob: "1*"}}}
              - {id: d, when: {hour: 24}}
              - {id: e, when: {weekday: funday}}
              - {id: f, when: {team: {in: x}}}

            """)
        #expect(codes(result).filter { $0 == "invalid-condition" }.count == 5, "\(result.diagnostics)")
        #expect(codes(result).contains("invalid-value"), "hour 24 is out of range")
    }

    @Test func teamShorthandIdsAreReserved() {
        let result = load(CheckCatalog.base + "budgets:\n  - {id: team.x.month, scope: team, period: month, limit: 5}\n")
        #expect(codes(result) == ["invalid-value"])
    }

    @Test func testKeysPointToTestFiles() throws {
        let result = load("version: 1\ntests: []\n")
        #expect(try #require(result.diagnostics.first).message.contains("*.test.yaml"))
    }

    @Test func undefinedReferencesAreLocated() throws {
        let result = load(CheckCatalog.base + "teams:\n  payments:\n    environments: [dev, prodution]\n")
        let diagnostic = try #require(result.diagnostics.first)
        #expect(diagnostic.location == SourceLocation(file: "policy.yaml", line: 11, column: 25))
        #expect(diagnostic.code == .undefinedReference)
    }

    @Test func exceptionExpiryUsesThePolicyTimeZone() {
        // now = 2026-11-23T12:00Z. In Pacific/Kiritimati (+14) the 23rd ended at 10:00Z.
        let expired = load("version: 1\nsettings: {timezone: Pacific/Kiritimati}\nexceptions:\n  - {id: E, waives: [unknown-model], expires: 2026-11-23}\n")
        #expect(codes(expired) == ["expired-exception"])
        let current = load("version: 1\nsettings: {timezone: America/Los_Angeles}\nexceptions:\n  - {id: E, waives: [unknown-model], expires: 2026-11-23}\n")
        #expect(codes(current) == ["expiring-exception"])
    }
}
