import ArgumentParser
import Purser
import PurserPolicyCommands
import Synchronization

extension LedgerCommand {
    /// `purser ledger load`: authorizes one request many times from concurrent callers, as a
    /// gateway's traffic would, and reports what was admitted and how fast (a pgbench for ledgers).
    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Authorize a request many times from concurrent callers against a ledger.",
            discussion: """
                Each of --callers concurrent tasks authorizes the request of --request (JSON, as
                purser eval reads it) until --requests authorizations have been made in
                total, and settles each allowed one at its estimate, asking again up to five
                times when the store does not answer (or, with --hold, leaves
                its reservation to expire). Run it from several processes at once against one
                sqlite: file to see a cap hold across processes. With --replicas N, N enforcers
                in this process, each with a connection (a pool) of its own, share the callers,
                as N gateway replicas would. Writes one JSON line: requests, allowed, denied,
                ledger_errors, settled (USD), seconds, per_second, p50_us and p99_us (authorize
                latency), and, when the policy sets budget_leases, stranded_usd (what the
                replicas' slices held unused at the first deny) and unused_at_end_usd. Exit
                codes: 0 done; 2 a bad request, policy or ledger.

                Example: 4 processes share $100 at $0.01 a call; together they admit exactly
                10,000:
                  for i in 1 2 3 4; do
                    purser ledger load --ledger sqlite:l.db --policy p/ --callers 32 \\
                      --requests 5000 --request '{"team":"t","environment":"prod","model":"m","cost":0.01}' &
                  done; wait
                """
        )

        @Option(help: ArgumentHelp("The ledger: memory:, sqlite:PATH or postgres://USER@HOST/DATABASE.", valueName: "url"), transform: LedgerURL.parse)
        var ledger: LedgerLocation

        @Option(help: "The policy files or directories.")
        var policy: [String] = ["policies"]

        @Option(help: ArgumentHelp("The request to authorize, as JSON.", valueName: "json"))
        var request: String

        @Option(help: "How many authorizations in total.")
        var requests: Int = 10_000

        @Option(help: "How many tasks authorize at once.")
        var callers: Int = 8

        @Option(help: ArgumentHelp("Spread the callers over these teams (comma-separated): caller N sends the request as the Nth, round robin, so that callers touch different counters.", valueName: "teams"))
        var teams: String?

        @Option(help: "Enforcers in this process, as replicas, each with its own connection to the ledger (one store for memory:); the callers are spread over them round robin.")
        var replicas: Int = 1

        @Flag(help: "Leave allowed reservations open (they expire after settings.reservation_ttl) instead of settling them.")
        var hold = false

        @OptionGroup var reading: PolicyReadOptions

        func validate() throws {
            guard (1...100_000_000).contains(requests) else { throw ValidationError("--requests must be from 1 to 100000000") }
            guard (1...1024).contains(callers) else { throw ValidationError("--callers must be from 1 to 1024") }
            guard (1...64).contains(replicas) else { throw ValidationError("--replicas must be from 1 to 64") }
        }

        func run() throws {
            let parsed: Request
            do { parsed = try RequestDecoder.decode(request) } catch {
                Output.error("purser: --request: \(error.message)")
                throw ExitCode(2)
            }
            let policy = try PolicyLoading.load(self.policy, reading: reading)
            let store = try LedgerOpening.open(ledger)
            let enforcers = try (0..<replicas).map { replica in
                try PolicyLoading.enforcer(policy, ledger: replica == 0 || ledger == .memory ? store : try LedgerOpening.open(ledger), now: nil)
            }
            let leasing = enforcers[0].policy.flags.budgetLeases != nil
            let ticket = Ticket()
            let total = requests
            let hold = self.hold
            let callers = self.callers
            let teams = self.teams.map { $0.split(separator: ",").map(String.init) } ?? []
            let started = ContinuousClock.now
            // Each caller is a task awaiting the enforcer, as a gateway's request handlers are.
            let outcome = Blocking.wait { () async throws(LedgerError) -> Totals in
                await withTaskGroup(of: Totals.self) { group in
                    for caller in 0..<callers {
                        var request = parsed
                        if !teams.isEmpty { request.team = teams[caller % teams.count] }
                        let enforcer = enforcers[caller % enforcers.count]
                        group.addTask { [request] in
                            var mine = Totals()
                            while ticket.next.wrappingAdd(1, ordering: .relaxed).oldValue < total {
                                let before = ContinuousClock.now
                                let decision = await enforcer.authorize(request)
                                mine.latencies.append(Self.microseconds(ContinuousClock.now - before))
                                if let failure = decision.violations.first(where: { $0.rule == "ledger-unavailable" }) {
                                    mine.ledgerErrors += 1
                                    if mine.firstError == nil { mine.firstError = failure.message }
                                }
                                guard decision.isAllowed else {
                                    mine.denied += 1
                                    // Headroom stranded: what the slices of every replica hold unused at the first deny.
                                    if leasing, ticket.stranded.load(ordering: .relaxed) < 0 {
                                        let unused = enforcers.reduce(Int64(0)) { $0 + $1.leases.unusedUSD() }
                                        _ = ticket.stranded.compareExchange(expected: -1, desired: unused, ordering: .relaxed)
                                    }
                                    continue
                                }
                                mine.allowed += 1
                                if !hold, let cost = decision.cost {
                                    // As a gateway does: a store that did not answer is asked again
                                    // (settles are idempotent by id), so that no spend is dropped.
                                    for attempt in 1...5 {
                                        do throws(LedgerError) {
                                            _ = try await enforcer.settle(decision, cost: cost, tokens: request.usage.totalTokens)
                                            mine.settled += cost
                                            break
                                        } catch {
                                            guard error.reason == .store, attempt < 5 else {
                                                mine.ledgerErrors += 1
                                                if mine.firstError == nil { mine.firstError = error.message }
                                                break
                                            }
                                            try? await Task.sleep(for: .milliseconds(50 << attempt))
                                        }
                                    }
                                }
                            }
                            return mine
                        }
                    }
                    var all = Totals()
                    for await mine in group { all.add(mine) }
                    all.unusedAtEnd = enforcers.reduce(Int64(0)) { $0 + $1.leases.unusedUSD() }
                    for enforcer in enforcers { await enforcer.returnLeases() }
                    return all
                }
            }
            let result: Totals
            switch outcome {
            case .success(let totals): result = totals
            case .failure(let error):
                Output.error("purser: \(error.message)")
                throw ExitCode(2)
            }
            let seconds = Double((ContinuousClock.now - started).components.attoseconds) / 1e18
                + Double((ContinuousClock.now - started).components.seconds)
            let sorted = result.latencies.sorted()
            func percentile(_ fraction: Double) -> Double {
                sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
            }
            if let first = result.firstError {
                Output.error("purser: \(result.ledgerErrors) ledger error\(result.ledgerErrors == 1 ? "" : "s"); the first: \(first)")
            }
            let made = result.allowed + result.denied
            print("{\"requests\":\(made),\"allowed\":\(result.allowed),\"denied\":\(result.denied),"
                + "\"ledger_errors\":\(result.ledgerErrors),\"settled\":\(result.settled.description),"
                + "\"seconds\":\(Self.rounded(seconds)),\"per_second\":\(Self.rounded(Double(made) / max(seconds, 1e-9))),"
                + "\"p50_us\":\(Self.rounded(percentile(0.5))),\"p99_us\":\(Self.rounded(percentile(0.99)))"
                + (replicas > 1 ? ",\"replicas\":\(replicas)" : "")
                + (leasing ? ",\"stranded_usd\":\(USD(nanos: max(0, ticket.stranded.load(ordering: .relaxed))))"
                    + ",\"unused_at_end_usd\":\(USD(nanos: result.unusedAtEnd))" : "") + "}")
        }

        /// Hands out the authorizations to make, one at a time, to every caller.
        private final class Ticket: Sendable {
            let next = Atomic<Int>(0)
            /// Nano-dollars the replicas' slices held unused at the first deny; -1 before one.
            let stranded = Atomic<Int64>(-1)
        }

        private struct Totals: Sendable {
            var allowed = 0
            var denied = 0
            var ledgerErrors = 0
            var settled = USDTotal.zero
            var latencies: [Double] = []
            var firstError: String?
            var unusedAtEnd: Int64 = 0

            mutating func add(_ other: Totals) {
                allowed += other.allowed
                denied += other.denied
                ledgerErrors += other.ledgerErrors
                settled += other.settled
                latencies += other.latencies
                firstError = firstError ?? other.firstError
            }
        }

        private static func microseconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
        }

        private static func rounded(_ value: Double) -> String {
            let scaled = (value * 10).rounded() / 10
            return scaled == scaled.rounded() ? String(Int(scaled)) : String(scaled)
        }
    }
}
