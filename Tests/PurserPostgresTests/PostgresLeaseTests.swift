import Testing
import Purser
import PurserPostgres
import PurserTestSupport

/// Budget leases on one PostgreSQL database, each replica with a pool of its own
/// (docs/ledgers.md, "Budget leases").
@Suite("PostgreSQL budget leases", .enabled(if: PostgresTestServer.enabled, "PostgreSQL is not installed"))
struct PostgresLeaseTests {
    static func replicas(_ count: Int) async throws -> [PostgresLedger] {
        let (url, first) = try await PostgresLedgerTests.migrated()
        return [first] + (try (1..<count).map { _ in try PostgresLedger(url: url) })
    }

    @Test func replicasLeasingNeverOverspend() async throws {
        try await PostgresLedgerTests.onOwnExecutor {
            try await LeaseContract.neverOverspend(try await Self.replicas(4), tasks: 8, calls: 40)
        }
    }

    @Test func settleAndReleaseOnAnotherReplica() async throws {
        try await PostgresLedgerTests.onOwnExecutor {
            let replicas = try await Self.replicas(2)
            try await LeaseContract.settleAndReleaseAcrossReplicas(replicas[0], replicas[1])
        }
    }

    @Test func aCallSettledElsewhereFreesItsSlice() async throws {
        try await PostgresLedgerTests.onOwnExecutor {
            let replicas = try await Self.replicas(2)
            try await LeaseContract.aCallSettledElsewhereFreesItsSlice(replicas[0], replicas[1])
        }
    }

    /// The slice of a replica that is dropped without returning it expires by the server's clock.
    @Test func aDeadReplicasSlicesExpire() async throws {
        try await PostgresLedgerTests.onOwnExecutor {
            let replicas = try await Self.replicas(2)
            try await LeaseContract.aDeadReplicasSlicesExpire(replicas[0], replicas[1])
        }
    }

    @Test func slicesShrinkAsTheCapFills() async throws {
        try await PostgresLedgerTests.onOwnExecutor {
            let sizes = try await LeaseContract.slicesShrink(try await Self.replicas(1)[0])
            #expect(Array(sizes.prefix(4)) == [100, 90, 81, 72])
        }
    }
}
