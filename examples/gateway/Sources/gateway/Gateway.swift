import Purser

/// What the gateway did with one call.
struct CallResult: Sendable {
    enum Outcome: Sendable {
        /// Purser denied the request: answer the client with HTTP 403 and the violations.
        case denied
        /// The provider answered and its actual usage was settled.
        case completed(actual: Usage, settlement: Enforcer.Settlement)
        /// The provider answered but the ledger could not record the spend.
        case unrecorded(actual: Usage, error: LedgerError)
        /// The provider failed; the reservation was released.
        case failed(ProviderError)
    }

    /// The decision the call finally ran under (after any region retries).
    let decision: Decision
    let outcome: Outcome
    /// Earlier decisions whose region answered HTTP 429, released and retried elsewhere.
    let rateLimited: [Decision]
    /// Budget alerts raised by this call (authorize and settle); the ledger fires each
    /// threshold once per counter, so none repeats.
    let alerts: [BudgetAlert]
}

/// The gateway's decision path: authorize → call the provider → settle or release.
///
/// It is `Sendable` (so is `Enforcer`): every connection handler, task or
/// thread may call `handle` at the same time.
struct Gateway: Sendable {
    let enforcer: Enforcer
    let provider: SimulatedProvider
    /// How many other regions to try after an HTTP 429.
    var maxRegionRetries = 2

    func handle(_ request: Request) async -> CallResult {
        var request = request
        var rateLimited: [Decision] = []
        var alerts: [BudgetAlert] = []
        func result(_ decision: Decision, _ outcome: CallResult.Outcome) -> CallResult {
            CallResult(decision: decision, outcome: outcome, rateLimited: rateLimited, alerts: alerts)
        }
        while true {
            // 1. Authorize: evaluate the policy and, on allow, reserve the estimated
            //    cost on every budget counter the request counts against, atomically.
            let decision = await enforcer.authorize(request)
            alerts.append(contentsOf: decision.alerts)
            guard decision.isAllowed else {
                return result(decision, .denied)
            }

            // 2. Call the model and region Purser chose: it may have rerouted the
            //    request to a fallback model or region.
            let actual: Usage
            do throws(ProviderError) {
                actual = try await provider.complete(model: decision.model, region: decision.region, estimate: request.usage)
            } catch {
                // The call did not happen: give the reserved budget back now rather
                // than holding it until the reservation's TTL runs out.
                await release(decision)
                if case .rateLimited(let region) = error, rateLimited.count < maxRegionRetries {
                    // 3. HTTP 429: ask again with the region marked unavailable. Purser
                    //    reroutes to the first of the region's fallbacks that the policy
                    //    allows for this team, environment and model (EU stays in the EU).
                    request.unavailableRegions.append(region)
                    rateLimited.append(decision)
                    continue
                }
                return result(decision, .failed(error))
            }

            // 4. Settle: replace the reservation with what the provider billed.
            do throws(LedgerError) {
                let settlement = try await enforcer.settle(decision, usage: actual)
                alerts.append(contentsOf: settlement.alerts)
                return result(decision, .completed(actual: actual, settlement: settlement))
            } catch {
                // The call happened but its spend is not recorded. Log it with the
                // decision id: the nightly `purser audit` of the usage log counts it.
                logError("\(decision.id): could not settle: \(error.message)")
                return result(decision, .unrecorded(actual: actual, error: error))
            }
        }
    }

    /// Drops a decision's reservation; a failure only means the reservation
    /// stays until its TTL (`settings.reservation_ttl`) runs out.
    private func release(_ decision: Decision) async {
        do throws(LedgerError) {
            try await enforcer.release(decision)
        } catch {
            logError("\(decision.id): could not release: \(error.message)")
        }
    }

    /// Reloads the policy (on SIGHUP, or when the policy repository deploys).
    /// The swap is atomic, and an invalid policy never replaces the one in
    /// force: on errors the enforcer keeps deciding with the old policy.
    @discardableResult
    func reloadPolicy(paths: [String]) -> Bool {
        let result = enforcer.reload(paths: paths)
        for diagnostic in result.diagnostics {
            logError(diagnostic.description)  // FILE:LINE:COL: error|warning: MESSAGE [code]
        }
        guard result.policy != nil else {
            logError("policy reload refused (\(result.errorCount) errors); still enforcing \(enforcer.policy.revision)")
            return false
        }
        return true
    }
}
