import ArgumentParser
import Dispatch
import Logging
import Purser
import PurserPolicyCommands
import PurserCore
import PurserDecisionLog
import PurserServer
import Synchronization

/// `purser serve`: the HTTP sidecar a gateway asks for decisions (docs/api.md).
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer decisions over HTTP, for gateways not written in Swift.",
        discussion: """
            A JSON API (docs/api.md): POST /v1/authorize takes the request
            purser eval reads and answers the decision it writes; POST /v1/settle and
            /v1/release close a decision by its id; POST /v1/evaluate is a dry run;
            GET /v1/policy, /healthz, /readyz and /metrics (Prometheus) are for
            operators. Logs are JSON lines on standard error.

            The server trusts its own clock and price table: a caller sends a
            "timestamp" (within --timestamp-skew) or a "cost" only when its token has
            the timestamp or cost scope. Tokens come from --tokens-file, one caller
            per line:

              # NAME     SCOPES                 TOKEN (or sha256:HEX of it)
              litellm    decide,settle,cost     5b1f0c…

            With no tokens file, loopback callers decide and settle without a token.
            It listens on loopback unless it serves HTTPS (--tls-cert and --tls-key)
            and a tokens file names who may decide: then any address will do.
            Reloading the policy (SIGHUP, --watch, or POST /v1/reload with the token
            of --admin-token-file) keeps the last good policy when the new one is
            invalid. SIGTERM stops taking calls, finishes those in flight, closes the
            decision log with a signed checkpoint and exits 0.

            With --decision-log, every authorize, evaluate, settle and release is
            appended to a tamper-evident log (docs/decision-log.md) that
            purser verify-log checks; - writes it to standard output for a collector.

            Exit codes: 0 stopped by SIGTERM or SIGINT; 2 an invalid policy, ledger,
            tokens file or address.

            Examples:
              purser serve --policy policies/
              purser serve --ledger sqlite:/var/lib/purser/ledger.db --watch
              purser serve --decision-log /var/log/purser --decision-log-key purser.key
              purser serve --listen 0.0.0.0:8443 --tls-cert tls.crt --tls-key tls.key --tokens-file tokens
              curl -s localhost:8181/v1/authorize -d '{"team":"payments","environment":"qa","model":"claude-opus-4-5"}'
            """
    )

    @Option(help: "The policy files or directories.")
    var policy: [String] = ["policies"]

    @Option(help: ArgumentHelp("Where spend is kept: memory:, sqlite:PATH or postgres://USER@HOST/DB.", valueName: "url"),
            transform: LedgerURL.parse)
    var ledger: LedgerLocation = .memory

    @Option(help: ArgumentHelp("The address to listen on (off loopback only with --tls-cert, --tls-key and --tokens-file; port 0 picks a free one).",
                               valueName: "host:port"))
    var listen: String = "127.0.0.1:8181"

    @Option(help: ArgumentHelp("The callers and their scopes, one NAME SCOPES TOKEN per line.", valueName: "file"))
    var tokensFile: String?

    @Option(help: ArgumentHelp("A file holding the token POST /v1/reload needs.", valueName: "file"))
    var adminTokenFile: String?

    @Option(help: ArgumentHelp("Serve HTTPS with this certificate chain (PEM: the server's certificate, then its intermediates).", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("The private key of --tls-cert (PEM, not encrypted).", valueName: "file"))
    var tlsKey: String?

    @Flag(help: "Reload the policy when one of its files changes (checked every second).")
    var watch = false

    @Option(help: ArgumentHelp("How far a request's timestamp may be from the server's clock, in seconds.", valueName: "seconds"))
    var timestampSkew: Int = 300

    @Option(help: ArgumentHelp("The largest request body accepted, in bytes (a larger one is answered 413).", valueName: "bytes"))
    var maxBodyBytes: Int = 1 << 20

    @Option(help: ArgumentHelp("Seconds a connection may stay idle before it is closed.", valueName: "seconds"))
    var idleTimeout: Int = 60

    @OptionGroup var reading: PolicyReadOptions

    @OptionGroup var logging: DecisionLogOptions

    func validate() throws {
        guard (0...86_400).contains(timestampSkew) else { throw ValidationError("--timestamp-skew must be from 0 to 86400 seconds") }
        guard (1...(64 << 20)).contains(maxBodyBytes) else { throw ValidationError("--max-body-bytes must be from 1 to 67108864") }
        guard (1...86_400).contains(idleTimeout) else { throw ValidationError("--idle-timeout must be from 1 to 86400 seconds") }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
    }

    func run() throws {
        var options = ServerOptions()
        do throws(ServerError) {
            options.listen = try ListenAddress(parsing: listen)
        } catch {
            throw ValidationError(error.message)
        }
        do throws(CallerFileError) {
            var callers = try tokensFile.map { path throws(CallerFileError) in try Callers(tokensFile: path) } ?? Callers()
            if let adminTokenFile { callers = try callers.adding(adminTokenFile: adminTokenFile) }
            options.callers = callers
        } catch {
            Output.error("purser: \(error.message)")
            throw ExitCode(2)
        }
        options.policyPaths = policy
        options.timestampSkew = .seconds(timestampSkew)
        options.maxBodyBytes = maxBodyBytes
        options.idleTimeout = .seconds(idleTimeout)
        options.watchInterval = watch ? .seconds(1) : nil
        if let tlsCert, let tlsKey { options.tls = TLSFiles(certificateChain: tlsCert, privateKey: tlsKey) }

        let loaded = try PolicyLoading.loadWithFiles(policy, reading: reading)
        let store = try ledger == .memory ? nil : LedgerOpening.open(ledger, blocking: false)
        let enforcer = try PolicyLoading.enforcer(loaded.policy, ledger: store, now: nil)
        let clock = enforcer.clock
        let decisionLog = try logging.openLog()
        // A collector that closes the pipe of `--decision-log -` must not kill the server; the write fails instead.
        SystemCalls.ignoreBrokenPipes()
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, clock: { clock.now() }) }
        let server: PurserServer
        do throws(ServerError) {
            server = try PurserServer(enforcer: enforcer, options: options, files: loaded.files,
                                      decisionLog: decisionLog, logger: Logger(label: "purser"))
        } catch {
            Output.error("purser: \(error.message)")
            throw ExitCode(2)
        }
        let failure = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await server.run()
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
            done.signal()
        }
        done.wait()
        if let message = failure.withLock({ $0 }) {
            Output.error("purser: serve: \(message)")
            throw ExitCode(2)
        }
    }
}
