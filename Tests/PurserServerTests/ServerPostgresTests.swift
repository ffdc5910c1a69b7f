import Foundation
import Purser
import PurserPostgres
import PurserServer
import PurserTestSupport
import Testing

/// `purser serve` in front of the fleet ledger: two servers, as two replicas, on one real
/// PostgreSQL; a decision authorized on one is settled on the other, and both see the spend.
@Suite("purser serve on PostgreSQL", .enabled(if: PostgresTestServer.enabled, "PostgreSQL is not installed"))
struct ServerPostgresTests {
    @Test("authorize on one replica, settle on another, budgets from either")
    func twoReplicas() async throws {
        try await onOwnExecutor("purser.server-postgres-test") {
            let database = try PostgresTestServer.shared().database("serve")
            let url = database + "?timeout_ms=20000"
            let first = try PostgresLedger(url: url)
            let second = try PostgresLedger(url: url)
            defer {
                first.shutdown()
                second.shutdown()
            }
            _ = try await first.migrate()
            let policy = try #require(load(LedgerContract.policy()).policy)
            let clock = ManualClock(EngineFixture.monday)
            let a = try Enforcer(policy: policy, ledger: first, clock: clock)
            let b = try Enforcer(policy: policy, ledger: second, clock: clock)
            try await withServer(a) { one in
                try await withServer(b) { two in
                    let decision = try await one.post("/v1/authorize", #"{"team":"t","environment":"prod","model":"m","usage":{"input_tokens":1000000}}"#).json
                    #expect(decision["decision"] as? String == "allow")
                    let id = try #require(decision["decision_id"] as? String)
                    let settled = try await two.post("/v1/settle", #"{"decision_id":"\#(id)","usage":{"input_tokens":2000000}}"#)
                    #expect(settled.status == 200, "\(settled.text)")
                    #expect(try settled.json["outcome"] as? String == "settled")
                    #expect(try settled.json["cost"] as? Double == 2)
                    for server in [one, two] {
                        let rows = try #require(try await server.get("/v1/budgets?budget=cap").json["counters"] as? [[String: Any]])
                        #expect(rows.count == 1 && rows.first?["spent"] as? Double == 2 && rows.first?["reserved"] as? Double == 0)
                    }
                    let ready = try await two.get("/readyz").json
                    #expect(ready["ledger"] as? String == "up")
                }
            }
        }
    }
}
