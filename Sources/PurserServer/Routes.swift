import Hummingbird
import Logging
import NIOCore
import Purser
import PurserCore
import PurserPolicy

/// The request context: Hummingbird's, plus the connection, so that a body that arrives too
/// slowly can be cut off.
struct ServerContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// An answer that ends a call early: an error status with its JSON body.
struct Refusal: Error {
    let response: Response
}

/// Every endpoint of docs/api.md, dispatched by method and path.
struct Routes: HTTPResponder {
    let server: PurserServer

    func respond(to request: Request, context: ServerContext) async throws -> Response {
        let started = ContinuousClock.now
        var endpoint: ServerMetrics.Endpoint?
        let response: Response
        do {
            switch (request.method, request.uri.path) {
            case (.post, "/v1/authorize"):
                endpoint = .authorize
                response = try await decide(request, context, reserving: true)
            case (.post, "/v1/evaluate"):
                endpoint = .evaluate
                response = try await decide(request, context, reserving: false)
            case (.post, "/v1/settle"):
                endpoint = .settle
                response = try await settle(request, context)
            case (.post, "/v1/release"):
                endpoint = .release
                response = try await release(request, context)
            case (.get, "/v1/budgets"):
                endpoint = .budgets
                response = try await budgets(request)
            case (.get, "/v1/policy"):
                endpoint = .policy
                _ = try authenticate(request, needs: .decide)
                response = Reply.json(.ok, ServerJSON.policy(server.policy.snapshot))
            case (.post, "/v1/reload"):
                endpoint = .reload
                response = try reload(request)
            case (.get, "/healthz"):
                response = Reply.json(.ok, #"{"status":"ok"}"#)
            case (.get, "/readyz"):
                response = await ready()
            case (.get, "/metrics"):
                await refreshBudgetGauges()
                response = Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                                    body: .init(byteBuffer: ByteBuffer(bytes: server.metrics.render())))
            case (_, "/v1/authorize"), (_, "/v1/evaluate"), (_, "/v1/settle"), (_, "/v1/release"), (_, "/v1/reload"):
                response = Reply.error(.methodNotAllowed, "\(request.uri.path) takes POST", headers: [.allow: "POST"])
            case (_, "/v1/budgets"), (_, "/v1/policy"), (_, "/healthz"), (_, "/readyz"), (_, "/metrics"):
                response = Reply.error(.methodNotAllowed, "\(request.uri.path) takes GET", headers: [.allow: "GET"])
            default:
                response = Reply.error(.notFound, "no such endpoint; see docs/api.md (POST /v1/authorize, /v1/evaluate, /v1/settle, /v1/release, /v1/reload; GET /v1/budgets, /v1/policy, /healthz, /readyz, /metrics)")
            }
        } catch let refusal as Refusal {
            response = refusal.response
        }
        if let endpoint { server.metrics.took(ContinuousClock.now - started, at: endpoint) }
        return response
    }

    // MARK: Decisions

    private func decide(_ request: Request, _ context: ServerContext, reserving: Bool) async throws -> Response {
        let caller = try authenticate(request, needs: .decide)
        let body = try await readBody(request, context)
        let decoded = try decisionRequest(body, caller: caller, reserving: reserving)
        let enforcer = server.enforcer
        let decision = reserving ? await enforcer.authorize(decoded) : await enforcer.evaluate(decoded)
        return Reply.json(.ok, answer(decision, to: decoded, caller: caller, reserving: reserving, allocator: ByteBufferAllocator()))
    }

    /// The request a decision call's body holds, refused with 400 when malformed and, on
    /// authorize, with 403 or 400 when it sends what the caller may not (``checkTrust``).
    /// Both this route and ``DecisionFastPath`` call it.
    func decisionRequest(_ body: [UInt8], caller: Caller, reserving: Bool) throws -> Purser.Request {
        let decoded: Purser.Request
        do {
            decoded = try Purser.RequestDecoder.decode(body)
        } catch {
            throw Refusal(response: Reply.malformed(error.message, at: error.offset, in: body))
        }
        if reserving { try checkTrust(decoded, caller) }
        return decoded
    }

    /// A decision's answer: counted in the metrics, appended to the decision log, encoded.
    /// Both this route and ``DecisionFastPath`` call it.
    func answer(_ decision: Decision, to request: Purser.Request, caller: Caller, reserving: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        server.metrics.decided(decision, at: reserving ? .authorize : .evaluate)
        var json = JSONWriter(capacity: 2048)
        var encoder = DecisionEncoder()
        encoder.encode(decision, into: &json)
        let answer = json.withBytes { allocator.buffer(bytes: $0) }
        record(reserving ? "authorize" : "evaluate", caller) { log in
            log.key("request")
            RequestEncoder.encode(request, into: &log)
            log.key("decision")
            log.beginRawValue()
            json.withBytes { log.append($0) }
        }
        return answer
    }

    /// Refuses what the caller may not decide: a `timestamp` (without the scope, or outside the
    /// skew) and a `cost` (without the scope). docs/api.md, "What the server does not trust".
    private func checkTrust(_ request: Purser.Request, _ caller: Caller) throws {
        if request.cost != nil, !caller.scope.contains(.cost) {
            throw Refusal(response: Reply.error(.forbidden, "the caller \"\(caller.name)\" may not send \"cost\": the policy's price table decides what a call costs (a caller needs the cost scope)"))
        }
        if let timestamp = request.timestamp {
            guard caller.scope.contains(.timestamp) else {
                throw Refusal(response: Reply.error(.forbidden, "the caller \"\(caller.name)\" may not send \"timestamp\": the server's clock decides which budget window a call counts in (a caller needs the timestamp scope)"))
            }
            let now = server.enforcer.clock.now()
            let skew = server.options.timestampSkew.nanoseconds
            let distance = timestamp.nanoseconds.subtractingReportingOverflow(now.nanoseconds)
            guard !distance.overflow, distance.partialValue.magnitude <= skew.magnitude else {
                throw Refusal(response: Reply.error(.badRequest, "the timestamp \(timestamp) is more than \(skew / 1_000_000_000) s from the server's clock (\(now)); send it within that, or leave it out"))
            }
        }
    }

    // MARK: Settling

    private func settle(_ request: Request, _ context: ServerContext) async throws -> Response {
        let caller = try authenticate(request, needs: .settle)
        let body = try await readBody(request, context)
        let settle: SettleBody
        do {
            settle = try SettleBody.decode(body)
        } catch {
            throw Refusal(response: Reply.malformed(error.message, at: error.offset, in: body))
        }
        if settle.cost != nil, !caller.scope.contains(.cost) {
            throw Refusal(response: Reply.error(.forbidden, "the caller \"\(caller.name)\" may not send \"cost\": the usage is priced at the decision's model (a caller needs the cost scope)"))
        }
        let settlement: Enforcer.Settlement
        do {
            settlement = try await server.enforcer.settle(decisionID: settle.id, usage: settle.usage, cost: settle.cost)
            server.metrics.ledgerAnswered()
        } catch {
            throw Refusal(response: ledgerFailure(error))
        }
        let encoded = ServerJSON.settlement(settle.id, settlement)
        record("settle", caller) { json in
            json.key("settle")
            json.beginRawValue()
            body.filter { $0 != 0x0A && $0 != 0x0D }.withUnsafeBufferPointer { json.append($0) }
            json.key("result")
            json.beginRawValue()
            encoded.withUnsafeBufferPointer { json.append($0) }
        }
        return Reply.json(.ok, encoded)
    }

    private func release(_ request: Request, _ context: ServerContext) async throws -> Response {
        let caller = try authenticate(request, needs: .settle)
        let body = try await readBody(request, context)
        let id: DecisionID
        do {
            id = try SettleBody.decodeRelease(body)
        } catch {
            throw Refusal(response: Reply.malformed(error.message, at: error.offset, in: body))
        }
        let released: Bool
        do {
            released = try await server.enforcer.release(decisionID: id)
            server.metrics.ledgerAnswered()
        } catch {
            throw Refusal(response: ledgerFailure(error))
        }
        let encoded = Array("{\"decision_id\":\"\(id)\",\"released\":\(released)}".utf8)
        record("release", caller) { json in
            json.field("decision_id", id.description)
            json.field("released", released)
        }
        return Reply.json(.ok, encoded)
    }

    /// The answer for a ledger error: the caller's fault (404, 400) or the store's (503).
    private func ledgerFailure(_ error: LedgerError) -> Response {
        switch error.reason {
        case .unknownDecision: return Reply.error(.notFound, error.message)
        case .invalidCall: return Reply.error(.badRequest, error.message)
        case .store:
            server.metrics.ledgerFailed()
            return Reply.error(.serviceUnavailable, "the ledger cannot answer: \(error.message)")
        }
    }

    // MARK: Operations

    /// Sets `purser_budget_used_ratio` from the ledger's current counters, at scrape time rather
    /// than on every decision: a scrape every few seconds costs less than a lock per decision.
    private func refreshBudgetGauges() async {
        guard let listing = server.enforcer.ledger as? any CounterListing,
              let counters = try? await listing.counters() else { return }
        let policy = server.enforcer.policy
        let now = server.enforcer.clock.now()
        let current = counters.filter { counter, _ in
            counter.window == CalendarWindow.index(of: now.seconds, period: counter.period, zone: policy.zone)
        }
        server.metrics.budgets(BudgetRows(current, policy: policy).rows)
    }

    /// Counters against their caps, for dashboards: `?team=T&environment=E&budget=B`, current
    /// windows unless `windows=all`.
    private func budgets(_ request: Request) async throws -> Response {
        _ = try authenticate(request, needs: .decide)
        var filters: [String: String] = [:]
        for (name, value) in request.uri.queryParameters {
            guard ["team", "environment", "budget", "windows"].contains(name) else {
                throw Refusal(response: Reply.error(.badRequest, "unknown query parameter \(ServerJSON.quoted(String(name))); the parameters are team, environment, budget, windows"))
            }
            filters[String(name)] = String(value)
        }
        if let windows = filters["windows"], windows != "all", windows != "current" {
            throw Refusal(response: Reply.error(.badRequest, "windows must be current (the default) or all"))
        }
        guard let listing = server.enforcer.ledger as? any CounterListing else {
            throw Refusal(response: Reply.error(.notImplemented, "this ledger cannot list its counters"))
        }
        let counters: [(CounterKey, CounterState)]
        do {
            counters = try await listing.counters()
            server.metrics.ledgerAnswered()
        } catch {
            throw Refusal(response: ledgerFailure(error))
        }
        let policy = server.enforcer.policy
        let now = server.enforcer.clock.now()
        let currentOnly = filters["windows"] != "all"
        let chosen = counters.filter { counter, _ in
            let parts = counter.key.split(separator: "/")
            return filters["team"].map { team in parts.contains { $0 == team } } ?? true
                && filters["environment"].map { environment in parts.contains { $0 == environment } } ?? true
                && filters["budget"].map { $0 == counter.budget } ?? true
                && (!currentOnly || counter.window == CalendarWindow.index(of: now.seconds, period: counter.period, zone: policy.zone))
        }
        return Reply.json(.ok, BudgetRows(chosen, policy: policy).json())
    }

    private func reload(_ request: Request) throws -> Response {
        let caller = try authenticate(request, needs: .admin)
        let outcome = server.policy.reloadAndLog(server.logger, because: "POST /v1/reload by \(caller.name)")
        switch outcome {
        case .reloaded(let revision):
            return Reply.json(.ok, "{\"reloaded\":true,\"revision\":\(ServerJSON.quoted(revision))}")
        case .refused(let failure, let kept):
            return Reply.json(.unprocessableContent, ServerJSON.refusedReload(failure, kept: kept))
        }
    }

    /// Ready when a policy is in force; the ledger's state is reported, and makes the server
    /// unready only when the policy says to deny while the ledger cannot answer.
    private func ready() async -> Response {
        let probe = CounterKey(budget: "purser-readiness-probe", key: "", period: .day, window: 0)
        let ledgerUp: Bool
        do {
            _ = try await server.enforcer.ledger.read([probe])
            ledgerUp = true
            server.metrics.ledgerAnswered()
        } catch {
            ledgerUp = false
            server.metrics.ledgerFailed()
        }
        let failsClosed = server.enforcer.policy.flags.ledgerUnavailable == .deny
        let ready = ledgerUp || !failsClosed
        let body = "{\"ready\":\(ready),\"policy_revision\":\(ServerJSON.quoted(server.enforcer.policy.revision)),\"ledger\":\"\(ledgerUp ? "up" : "down")\",\"ledger_unavailable\":\"\(failsClosed ? "deny" : "allow")\"}"
        return Reply.json(ready ? .ok : .serviceUnavailable, body)
    }

    // MARK: Parts every call shares

    /// The caller a request's bearer token names, refused with 401 or 403.
    private func authenticate(_ request: Request, needs scope: Scope) throws -> Caller {
        try authenticate(request.headers, path: request.uri.path, needs: scope)
    }

    /// The caller the bearer token in `headers` names, refused with 401 or 403 (`path` is for
    /// the message). Both the routes and ``DecisionFastPath`` call it.
    func authenticate(_ headers: HTTPFields, path: String, needs scope: Scope) throws -> Caller {
        let callers = server.options.callers
        guard let header = headers[.authorization] else {
            if scope.isSubset(of: [.decide, .settle]), !callers.hasDecisionCallers {
                return Caller(name: "anonymous", scope: [.decide, .settle])
            }
            let why = scope == .admin && !callers.hasAdmin
                ? "no admin token is configured (start purser serve with --admin-token-file); send SIGHUP to reload instead"
                : "this call needs a token: send Authorization: Bearer TOKEN"
            throw Refusal(response: Reply.error(.unauthorized, why, headers: [.wwwAuthenticate: "Bearer"]))
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", let caller = callers.caller(token: parts[1]) else {
            throw Refusal(response: Reply.error(.unauthorized, "the token is not one this server knows", headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""]))
        }
        guard caller.scope.contains(scope) else {
            throw Refusal(response: Reply.error(.forbidden, "the caller \"\(caller.name)\" may not call \(path) (it needs the \(scope.names) scope)"))
        }
        return caller
    }

    /// The request's body, at most `maxBodyBytes` (else 413), arriving within `readTimeout`
    /// (else the connection is closed).
    private func readBody(_ request: Request, _ context: ServerContext) async throws -> [UInt8] {
        let limit = server.options.maxBodyBytes
        let channel = context.channel
        // The first Content-Length field, without the joined copy `headers[.contentLength]` makes.
        if let length = request.headers.first(where: { $0.name == .contentLength }).flatMap({ Int($0.value) }), length > limit {
            throw Self.tooLarge("the body is \(length) bytes; at most \(limit) are accepted", closing: channel)
        }
        // A body that does not arrive within the read timeout is cut off by `BodyDeadline`.
        do {
            var buffer = try await request.body.collect(upTo: limit)
            return buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch is NIOTooManyBytesError {
            throw Self.tooLarge("the body is longer than \(limit) bytes, the most accepted", closing: channel)
        }
    }

    /// 413, and the connection closed soon after: the rest of the body is never read, so the
    /// connection cannot carry another request, and a client still sending must not hold it
    /// open until the idle timeout. (The pause lets the answer reach the client first.)
    private static func tooLarge(_ message: String, closing channel: any Channel) -> Refusal {
        channel.eventLoop.scheduleTask(in: .milliseconds(500)) { channel.close(promise: nil) }
        return Refusal(response: Reply.error(.contentTooLarge, message, headers: [.connection: "close"]))
    }

    /// Appends an event to the decision log, if there is one; a log that cannot be written is
    /// logged and counted, and the call is still answered (docs/decision-log.md).
    private func record(_ event: String, _ caller: Caller, _ fields: (inout JSONWriter) -> Void) {
        guard let log = server.decisionLog else { return }
        let json = JSONWriter(capacity: 1024)
        json.object { json in
            json.field("caller", caller.name)
            fields(&json)
        }
        do {
            try log.append(event: event, time: server.enforcer.clock.now(), payload: json.withBytes { Array($0) })
        } catch {
            server.logger.error("decision log: cannot append", metadata: ["error": "\(error)"])
            server.metrics.decisionLogFailed()
        }
    }
}

extension Callers {
    /// Whether any caller may decide or settle (if none, loopback calls need no token).
    var hasDecisionCallers: Bool { contains(where: { !$0.scope.isDisjoint(with: [.decide, .settle]) }) }
    /// Whether any caller is an administrator.
    var hasAdmin: Bool { contains(where: { $0.scope.contains(.admin) }) }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let whole = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !whole.overflow else { return seconds < 0 ? .min : .max }
        let sum = whole.partialValue.addingReportingOverflow(attoseconds / 1_000_000_000)
        return sum.overflow ? .max : sum.partialValue
    }
}
