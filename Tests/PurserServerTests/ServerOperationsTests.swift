import Foundation
import Purser
import PurserPostgres
import PurserServer
import PurserTestSupport
import Testing

/// What operators see and do (docs/api.md, "The calls an operator makes"): policy reloads that keep
/// the last good policy, health and readiness, Prometheus metrics.
@Suite("purser serve: reloads, health, readiness and metrics")
struct ServerOperationsTests {
    static let policy = """
        version: 1
        models:
          small: {provider: p, tier: small, price: {input: 1, output: 1}}
          big: {provider: p, tier: frontier, price: {input: 10, output: 10}}
        environments:
          qa: {tiers: [small]}
        teams:
          t: {budget: {day: 5}}
        """
    static let bigInQA = #"{"team":"t","environment":"qa","model":"big"}"#

    /// An enforcer over a policy directory written to disk, as `purser serve` reads it.
    static func served(_ scratch: Scratch, _ yaml: String = policy) throws -> (Enforcer, ServerOptions, [String]) {
        let file = try scratch.write("policy.yaml", yaml)
        let loaded = PolicySet.load(paths: [scratch.path])
        let enforcer = try Enforcer(policy: try #require(loaded.policy), clock: ManualClock(EngineFixture.monday))
        var options = ServerOptions()
        options.policyPaths = [scratch.path]
        options.callers = try Callers(tokensFile: try scratch.write("tokens", "ops admin admin-token-0123456789abcdef"))
        _ = file
        return (enforcer, options, loaded.files)
    }

    static let adminToken = "admin-token-0123456789abcdef"

    @Test("a reload with a broken policy keeps the last good one, and says so in /v1/policy and /metrics")
    func reloadKeepsLastGoodPolicy() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let (enforcer, options, files) = try Self.served(scratch)
        try await withServer(enforcer, options: options, files: files) { server in
            let first = try await server.get("/v1/policy").json
            let revision = try #require(first["revision"] as? String)
            #expect((first["files"] as? [String])?.count == 1)
            #expect(first["last_reload_error"] is NSNull)
            #expect(try await server.post("/v1/authorize", Self.bigInQA).json["decision"] as? String == "deny")

            _ = try scratch.write("policy.yaml", Self.policy + "  broken: [\n")
            let refused = try await server.post("/v1/reload", "", token: Self.adminToken)
            #expect(refused.status == 422)
            #expect(try refused.json["revision"] as? String == revision)
            let state = try await server.get("/v1/policy").json
            #expect(state["revision"] as? String == revision)
            #expect(state["reload_failures"] as? Int == 1)
            let error = try #require(state["last_reload_error"] as? [String: Any])
            #expect((error["diagnostics"] as? [String])?.first?.contains("policy.yaml:") == true)
            // The old policy still decides.
            #expect(try await server.post("/v1/authorize", Self.bigInQA).json["decision"] as? String == "deny")

            _ = try scratch.write("policy.yaml", Self.policy.replacingOccurrences(of: "tiers: [small]", with: "tiers: [small, frontier]"))
            let reloaded = try await server.post("/v1/reload", "", token: Self.adminToken)
            #expect(reloaded.status == 200)
            let newRevision = try #require(try reloaded.json["revision"] as? String)
            #expect(newRevision != revision)
            #expect(try await server.post("/v1/authorize", Self.bigInQA).json["decision"] as? String == "allow")
            let after = try await server.get("/v1/policy").json
            #expect(after["last_reload_error"] is NSNull)
            #expect(after["reloads"] as? Int == 1)

            let metrics = try await server.get("/metrics").text
            #expect(metrics.contains("purser_policy_reloads_total 1"))
            #expect(metrics.contains("purser_policy_reload_failures_total 1"))
        }
    }

    @Test("--watch reloads when a policy file changes")
    func watch() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var (enforcer, options, files) = try Self.served(scratch)
        options.watchInterval = .milliseconds(100)
        try await withServer(enforcer, options: options, files: files) { server in
            let revision = try await server.get("/v1/policy").json["revision"] as? String
            _ = try scratch.write("policy.yaml", Self.policy + "\n# a comment changes the revision\n")
            var changed = false
            for _ in 0..<100 where !changed {
                try await Task.sleep(for: .milliseconds(50))
                changed = try await server.get("/v1/policy").json["revision"] as? String != revision
            }
            #expect(changed)
        }
    }

    /// Lays out a policy directory as a Kubernetes ConfigMap volume does: `policy.yaml` is a symlink
    /// to `..data/policy.yaml`, and `..data` a symlink to a timestamped directory holding the file.
    static func configMap(_ scratch: Scratch, version: String, yaml: String) throws {
        let manager = FileManager.default
        let timestamped = "..2026_12_07_\(version)"
        try manager.createDirectory(atPath: scratch.path + "/" + timestamped, withIntermediateDirectories: true)
        _ = try scratch.write(timestamped + "/policy.yaml", yaml)
        // The kubelet's swap: a new link beside the old one, renamed over it in one step.
        try manager.createSymbolicLink(atPath: scratch.path + "/..data_tmp", withDestinationPath: timestamped)
        #expect(rename(scratch.path + "/..data_tmp", scratch.path + "/..data") == 0)
        if !manager.fileExists(atPath: scratch.path + "/policy.yaml") {
            try manager.createSymbolicLink(atPath: scratch.path + "/policy.yaml", withDestinationPath: "..data/policy.yaml")
        }
    }

    @Test("a ConfigMap volume: each file is read once, and a ..data swap reloads once under --watch")
    func configMapSwap() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // Two versions of the same size, so only the file behind the symlink (another inode, another
        // time) tells them apart.
        let before = Self.policy.replacingOccurrences(of: "tiers: [small]", with: "tiers: [small]    ")
        let updated = Self.policy.replacingOccurrences(of: "tiers: [small]", with: "tiers: [frontier] ")
        #expect(before.utf8.count == updated.utf8.count)
        try Self.configMap(scratch, version: "a", yaml: before)
        let loaded = PolicySet.load(paths: [scratch.path])
        #expect(loaded.files == [scratch.path + "/policy.yaml"], "the ..-prefixed directories are not read")
        let enforcer = try Enforcer(policy: try #require(loaded.policy), clock: ManualClock(EngineFixture.monday))
        var options = ServerOptions()
        options.policyPaths = [scratch.path]
        options.watchInterval = .milliseconds(100)
        try await withServer(enforcer, options: options, files: loaded.files) { server in
            let first = try await server.get("/v1/policy").json
            let revision = try #require(first["revision"] as? String)
            #expect((first["files"] as? [String])?.count == 1)
            #expect(try await server.post("/v1/authorize", Self.bigInQA).json["decision"] as? String == "deny")
            try Self.configMap(scratch, version: "b", yaml: updated)
            // The kubelet removes the old directory afterwards: a change to the directory, in
            // another watch interval, that must not reload a second time.
            try await Task.sleep(for: .milliseconds(300))
            try FileManager.default.removeItem(atPath: scratch.path + "/..2026_12_07_a")
            var state: [String: Any] = [:]
            for _ in 0..<100 {
                try await Task.sleep(for: .milliseconds(50))
                state = try await server.get("/v1/policy").json
                if state["revision"] as? String != revision { break }
            }
            #expect(state["revision"] as? String != revision, "the swap was not seen")
            #expect(try await server.post("/v1/authorize", Self.bigInQA).json["decision"] as? String == "allow")
            // Several watch intervals later, still exactly one reload and no failure.
            try await Task.sleep(for: .milliseconds(600))
            let after = try await server.get("/v1/policy").json
            #expect(after["reloads"] as? Int == 1, "\(after)")
            #expect(after["reload_failures"] as? Int == 0)
            #expect((after["files"] as? [String])?.count == 1)
        }
    }

    @Test("healthz, readyz and metrics: decisions by effect and rule, latency, budget use")
    func healthAndMetrics() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let (enforcer, options, files) = try Self.served(scratch)
        try await withServer(enforcer, options: options, files: files) { server in
            #expect(try await server.get("/healthz").status == 200)
            let ready = try await server.get("/readyz")
            #expect(ready.status == 200)
            #expect(try ready.json["ledger"] as? String == "up")
            for _ in 0..<3 { _ = try await server.post("/v1/authorize", Self.bigInQA) }
            // Refused (403: an anonymous caller may not send a cost): timed, but not a decision.
            #expect(try await server.post("/v1/authorize", #"{"team":"t","environment":"qa","model":"small","cost":1}"#).status == 403)
            _ = try await server.post("/v1/authorize", #"{"team":"t","environment":"qa","model":"small","usage":{"input_tokens":1000000}}"#)
            let metrics = try await server.get("/metrics")
            #expect(metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
            let text = metrics.text
            #expect(text.contains(#"purser_decisions_total{endpoint="authorize",decision="deny"} 3"#), "\(text)")
            #expect(text.contains(#"purser_decisions_total{endpoint="authorize",decision="allow"} 1"#))
            #expect(text.contains(#"purser_violations_total{rule="environment-model""#))
            #expect(text.contains(#"purser_request_duration_seconds_count{endpoint="authorize"} 5"#))
            // $1 reserved of the $5 daily cap.
            #expect(text.contains(#"purser_budget_used_ratio{budget="team.t.day",key="t",unit="usd"} 0.2"#), "\(text)")
            #expect(text.contains("purser_ledger_up 1"))
        }
    }

    @Test("readyz: a ledger that cannot answer makes the server unready only when the policy fails closed")
    func readiness() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        for (setting, ready) in [("deny", false), ("allow", true)] {
            let yaml = Self.policy + "\nsettings: {ledger_unavailable: \(setting)}\n"
            _ = try scratch.write("policy.yaml", yaml)
            // A real PostgreSQL client pointed at a port where nothing listens.
            let ledger = try PostgresLedger(url: "postgres://purser@127.0.0.1:9/purser?timeout_ms=300")
            let enforcer = try Enforcer(policy: try #require(PolicySet.load(paths: [scratch.path]).policy), ledger: ledger)
            try await withServer(enforcer) { server in
                let response = try await server.get("/readyz")
                #expect(response.status == (ready ? 200 : 503), "\(response.text)")
                #expect(try response.json["ledger"] as? String == "down")
                #expect(try await server.get("/healthz").status == 200)
                let decision = try await server.post("/v1/authorize", #"{"team":"t","environment":"qa","model":"small"}"#).json
                #expect((decision["violations"] as? [[String: Any]])?.contains { $0["rule"] as? String == "ledger-unavailable" } == true)
                #expect(try await server.get("/metrics").text.contains("purser_ledger_up 0"))
            }
            ledger.shutdown()
        }
    }
}
