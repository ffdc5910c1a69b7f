import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import Purser
import PurserDecisionLog
import PurserCore
import PurserPolicy
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `purser serve`: decisions over HTTP for gateways not written in Swift (docs/api.md).
///
/// ```swift
/// let server = try PurserServer(enforcer: enforcer, options: options, files: loaded.files, logger: logger)
/// try await server.run()   // until SIGTERM or SIGINT; SIGHUP reloads the policy
/// ```
///
/// The server answers with the `Enforcer` it is given, so its decisions are the library's.
/// It judges time by the enforcer's clock and prices by the policy's table: a caller
/// sends a `timestamp` or a `cost` only with the scope that allows it (docs/api.md,
/// "What the server does not trust").
public final class PurserServer: Sendable {
    let enforcer: Enforcer
    let options: ServerOptions
    let logger: Logger
    let metrics: ServerMetrics
    let policy: PolicyState
    let decisionLog: (any DecisionSink)?
    /// HTTPS, when ``ServerOptions/tls`` names the files.
    let tlsConfiguration: TLSConfiguration?
    private let group = Mutex<ServiceGroup?>(nil)

    /// Creates a server; `files` are the policy files the enforcer's policy was read from.
    ///
    /// Listening off loopback is refused: the server speaks plain HTTP, and tokens must not
    /// cross a network in the clear (docs/api.md, "Listening off loopback").
    public init(enforcer: Enforcer, options: ServerOptions, files: [String], decisionLog: (any DecisionSink)? = nil,
                logger: Logger = Logger(label: "purser")) throws(ServerError)
    {
        tlsConfiguration = try options.tls.map(Self.tlsConfiguration)
        // Off loopback only with TLS (docs/api.md, "Listening off loopback"): bearer tokens must
        // not cross a network in the clear, and no caller there may go without one.
        guard options.listen.isLoopback || tlsConfiguration != nil else {
            throw ServerError("purser serve listens off loopback (\(options.listen)) only with TLS: give --tls-cert and --tls-key, because bearer tokens must not cross a network in the clear; or listen on 127.0.0.1 beside the gateway (a sidecar)")
        }
        guard options.listen.isLoopback || options.callers.hasDecisionCallers else {
            throw ServerError("purser serve listens off loopback (\(options.listen)) only with --tokens-file naming the callers that decide: without one, any caller that can reach the port could decide and settle without a token")
        }
        guard options.maxBodyBytes > 0 else { throw ServerError("the body-size limit must be positive") }
        self.enforcer = enforcer
        self.options = options
        self.logger = logger
        self.decisionLog = decisionLog
        let metrics = ServerMetrics()
        self.metrics = metrics
        policy = PolicyState(enforcer: enforcer, paths: options.policyPaths, files: files, metrics: metrics)
    }

    /// Runs until SIGTERM or SIGINT (or the task is cancelled), then stops taking connections,
    /// finishes the calls in flight and closes the decision log. SIGHUP reloads the policy.
    ///
    /// `onListening` is called with the port once the server accepts connections. Without
    /// `handlingSignals` (a server inside another program, the tests) ``shutdown()`` or
    /// cancelling the task stops it, and only `/v1/reload` and `--watch` reload.
    public func run(handlingSignals: Bool = true, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let application = try makeApplication(onListening: onListening)
        var services: [any Service] = [DecisionLogService(log: decisionLog, logger: logger)]
        if handlingSignals { services.append(ReloadOnSignal(policy: policy, logger: logger)) }
        if let interval = options.watchInterval {
            services.append(WatchPolicyFiles(policy: policy, interval: interval, logger: logger))
        }
        // Services stop in reverse order: the application first (draining its calls), the decision log last.
        services.append(application)
        let group = ServiceGroup(configuration: .init(services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                                                      gracefulShutdownSignals: handlingSignals ? [.sigterm, .sigint] : [],
                                                      cancellationSignals: [], logger: logger))
        self.group.withLock { $0 = group }
        try await group.run()
        // The calls are drained: budget-lease slices with no open call go back to the ledger now
        // rather than when they expire (docs/ledgers.md, "Budget leases").
        await enforcer.returnLeases()
    }

    /// Stops the server as SIGTERM does: no new connections, the calls in flight finished,
    /// the decision log closed; `run` then returns.
    public func shutdown() async {
        await group.withLock { $0 }?.triggerGracefulShutdown()
    }

    /// The server side of TLS from PEM files: TLS 1.2 or later, the certificate chain in file order.
    static func tlsConfiguration(_ files: TLSFiles) throws(ServerError) -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateChain)
        } catch {
            throw ServerError("--tls-cert \(files.certificateChain): not a readable PEM file of certificates (\(error))")
        }
        guard !chain.isEmpty else { throw ServerError("--tls-cert \(files.certificateChain): holds no certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.privateKey, format: .pem)
        } catch {
            throw ServerError("--tls-key \(files.privateKey): not a readable, unencrypted PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    func makeApplication(onListening: @escaping @Sendable (Int) async -> Void) throws -> some Service {
        let responder = Routes(server: self)
        let logger = self.logger
        let listen = options.listen
        let readTimeout = TimeAmount.nanoseconds(options.readTimeout.nanoseconds)
        let idleTimeout = TimeAmount.nanoseconds(options.idleTimeout.nanoseconds)
        // Decisions on a ledger that answers without waiting are made on the event loop
        // (DecisionFastPath); with a store that waits, every request goes through the routes.
        let fastPath = enforcer.decidesWithoutWaiting && options.fastPath
        let http = HTTPServerBuilder { responder in
            DecisionChannel(responder: responder, readTimeout: readTimeout, idleTimeout: idleTimeout,
                            fastPath: { [self] in fastPath ? DecisionFastPath(server: self) : nil })
        }
        let scheme = tlsConfiguration == nil ? "http" : "https"
        return Application(
            responder: responder,
            server: try tlsConfiguration.map { try .tls(http, tlsConfiguration: $0) } ?? http,
            configuration: ApplicationConfiguration(address: .hostname(listen.host, port: listen.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? listen.port
                logger.info("purser serve: listening", metadata: ["address": "\(listen.host):\(port)", "scheme": "\(scheme)"])
                await onListening(port)
            },
            logger: logger
        )
    }
}

/// Where the server writes what it decided (the decision log, docs/decision-log.md).
public protocol DecisionSink: Sendable {
    /// Appends one event: its kind (`authorize`, `settle`, …), when, and a compact JSON object.
    func append(event: String, time: Timestamp, payload: [UInt8]) throws
    /// Writes what is buffered.
    func flush() throws
    /// Flushes and closes, at shutdown.
    func close() throws
}

extension DecisionLog: DecisionSink {}

/// Closes the decision log when the server stops, after the application has drained.
struct DecisionLogService: Service {
    let log: (any DecisionSink)?
    let logger: Logger

    func run() async throws {
        // Wait for shutdown, flushing once a second so that a kill loses at most a second.
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            do { try log?.flush() } catch { logger.error("decision log: \(error)") }
        }
        do { try log?.close() } catch { logger.error("decision log: cannot close: \(error)") }
    }
}

/// Reloads the policy on SIGHUP.
struct ReloadOnSignal: Service {
    let policy: PolicyState
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await withGracefulShutdownHandler {
            for await _ in signals.cancelOnGracefulShutdown() {
                policy.reloadAndLog(logger, because: "SIGHUP")
            }
        } onGracefulShutdown: {}
    }
}

/// Reloads the policy when its files change (`--watch`).
struct WatchPolicyFiles: Service {
    let policy: PolicyState
    let interval: Duration
    let logger: Logger

    func run() async throws {
        var last = policy.fingerprint()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isShuttingDownGracefully else { break }
            let now = policy.fingerprint()
            if now != last {
                last = now
                policy.reloadAndLog(logger, because: "a policy file changed")
            }
        }
    }
}

extension PolicyState {
    /// Reloads and logs the outcome.
    @discardableResult
    func reloadAndLog(_ logger: Logger, because reason: String) -> Outcome {
        let outcome = reload()
        switch outcome {
        case .reloaded(let revision):
            logger.info("policy reloaded", metadata: ["reason": "\(reason)", "revision": "\(revision)"])
        case .refused(let failure, let kept):
            logger.error("policy reload refused; the last good policy stays in force",
                         metadata: ["reason": "\(reason)", "kept_revision": "\(kept)", "error": "\(failure.message)",
                                    "diagnostics": .array(failure.diagnostics.map { .string($0) })])
        }
        return outcome
    }
}
