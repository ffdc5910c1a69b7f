import Testing
import Purser
import PurserSQLite
import PurserTestSupport

/// Budget leases over one SQLite file, each replica on a connection of its own (docs/ledgers.md, "Budget leases").
@Suite("SQLite budget leases")
struct SQLiteLeaseTests {
    @Test func replicasLeasingNeverOverspend() async throws {
        try await SQLiteLedgerTests.withFile { path in
            try await LeaseContract.neverOverspend(try (0..<4).map { _ in try SQLiteLedger(path: path) }, tasks: 4, calls: 80)
        }
    }

    @Test func settleAndReleaseOnAnotherReplica() async throws {
        try await SQLiteLedgerTests.withFile { path in
            try await LeaseContract.settleAndReleaseAcrossReplicas(try SQLiteLedger(path: path), try SQLiteLedger(path: path))
        }
    }
}
