import Foundation
import Synchronization

/// A PostgreSQL server of the tests' own: `initdb` in a temporary directory, listening on
/// loopback only, stopped when the test process ends
/// (docs/ledgers.md, "Testing against PostgreSQL").
///
/// The binaries are Debian's (`/usr/lib/postgresql/N/bin`, or `PURSER_PG_BINDIR`). When
/// they are missing the PostgreSQL tests are skipped with a message, except under
/// `CI=true`, where they run and fail: CI installs PostgreSQL and must test against it.
/// As root, the server runs as the `postgres` user (PostgreSQL refuses to run as root).
package final class PostgresTestServer: Sendable {
    /// The directory of the server's binaries, if installed.
    package static let binaries: String? = {
        let manager = FileManager.default
        if let configured = ProcessInfo.processInfo.environment["PURSER_PG_BINDIR"] {
            return manager.isExecutableFile(atPath: configured + "/initdb") ? configured : nil
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? manager.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        return versions.map { "\(root)/\($0)/bin" }.first { manager.isExecutableFile(atPath: $0 + "/initdb") }
    }()

    /// Whether the PostgreSQL tests run: the binaries are installed, or CI requires them.
    package static var enabled: Bool {
        if binaries != nil { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" { return true }
        FileHandle.standardError.write(Data("PostgreSQL tests skipped: no PostgreSQL binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql, or set PURSER_PG_BINDIR)\n".utf8))
        return false
    }

    /// The server the tests of this process share.
    package static func shared() throws -> PostgresTestServer {
        try sharedServer.withLock { server in
            if let server { return server }
            let started = try PostgresTestServer()
            server = started
            atexit { PostgresTestServer.stopShared() }
            return started
        }
    }

    private static let sharedServer = Mutex<PostgresTestServer?>(nil)

    private static func stopShared() {
        sharedServer.withLock { $0?.destroy() }
    }

    /// The data directory.
    package let directory: String
    /// The port on 127.0.0.1.
    package let port: Int
    /// The superuser the tests connect as (trusted on loopback, no password).
    package let user = "purser"
    private let bin: String
    private let databases = Atomic<Int>(0)

    /// Creates a cluster in a new temporary directory and starts it. Without `fsync` the data is
    /// not safe from a power loss, but every commit is still in the WAL before it is answered
    /// (`synchronous_commit` stays on), so a server killed or stopped at once loses nothing.
    package init(fsync: Bool = false) throws {
        guard let bin = Self.binaries else {
            throw ServerError("no PostgreSQL binaries in /usr/lib/postgresql/*/bin; .ci/run installs Debian's postgresql package")
        }
        self.bin = bin
        let directory = NSTemporaryDirectory() + "purser-pg-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        if getuid() == 0 { try Self.run("/bin/chown", ["postgres:postgres", directory]) }
        try Self.run(bin + "/initdb", ["-D", directory + "/data", "-U", user, "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
                     asPostgres: true)
        var chosen = 0
        for _ in 0..<8 {
            let port = Int.random(in: 20_000..<60_000)
            let options = "-c listen_addresses=127.0.0.1 -p \(port) -k \(directory) -c fsync=\(fsync ? "on" : "off") "
                + "-c max_connections=300 -c shared_buffers=64MB"
            if (try? Self.run(bin + "/pg_ctl", ["-D", directory + "/data", "-o", options, "-l", directory + "/server.log", "-w", "-t", "30", "start"],
                              asPostgres: true)) != nil
            {
                chosen = port
                break
            }
        }
        guard chosen != 0 else {
            let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
            throw ServerError("PostgreSQL did not start in \(directory): \(log.suffix(800))")
        }
        port = chosen
    }

    /// A new, empty database; its URL.
    package func database(_ prefix: String = "test") throws -> String {
        let name = "\(prefix)_\(getpid())_\(databases.wrappingAdd(1, ordering: .relaxed).newValue)"
        try sql("CREATE DATABASE \(name)")
        return url(name)
    }

    /// The `postgres://` URL of a database.
    package func url(_ database: String, options: String = "") -> String {
        "postgres://\(user)@127.0.0.1:\(port)/\(database)" + (options.isEmpty ? "" : "?" + options)
    }

    /// Runs SQL with psql and returns what it printed (unaligned, tuples only).
    @discardableResult
    package func sql(_ statement: String, database: String = "postgres") throws -> String {
        try Self.run(bin + "/psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", user,
                                     "-d", database, "-c", statement])
    }

    /// Makes the server take TCP connections only over TLS and with a password, as a managed
    /// database does: a new CA (openssl) signs a certificate for 127.0.0.1 and localhost,
    /// `pg_hba.conf` allows `hostssl` with scram-sha-256 only, and the configuration is reloaded.
    /// Returns the CA's certificate (PEM). `sql` no longer works over TCP afterwards.
    package func requireTLS(password: String) throws -> String {
        try sql("ALTER USER \(user) PASSWORD '\(password)'")
        let files = try TestCertificates.make(in: directory)
        let (ca, key, certificate) = (files.ca, files.key, files.certificate)
        if getuid() == 0 { try Self.run("/bin/chown", ["postgres:postgres", key, certificate]) }
        let data = directory + "/data"
        let configuration = try String(contentsOfFile: data + "/postgresql.conf", encoding: .utf8)
        try (configuration + "\nssl = on\nssl_cert_file = '\(certificate)'\nssl_key_file = '\(key)'\n")
            .write(toFile: data + "/postgresql.conf", atomically: false, encoding: .utf8)
        try "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n"
            .write(toFile: data + "/pg_hba.conf", atomically: false, encoding: .utf8)
        try Self.run(bin + "/pg_ctl", ["-D", data, "reload"], asPostgres: true)
        // A reload is asynchronous: wait until the server answers over TLS.
        for _ in 0..<50 {
            if (try? Self.run(bin + "/psql", ["-X", "-A", "-t", "-c", "SHOW ssl", "postgresql://\(user):\(password)@127.0.0.1:\(port)/postgres?sslmode=require"]))?
                .contains("on") == true { return ca }
            usleep(100_000)
        }
        throw ServerError("PostgreSQL did not turn TLS on: \((try? String(contentsOfFile: directory + "/server.log", encoding: .utf8))?.suffix(800) ?? "")")
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`): connections drop as in a crash.
    package func stop() {
        _ = try? Self.run(bin + "/pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"], asPostgres: true)
    }

    /// Starts the stopped server again on the same port.
    package func restart() throws {
        let options = "-c listen_addresses=127.0.0.1 -p \(port) -k \(directory) -c fsync=off -c max_connections=300"
        try Self.run(bin + "/pg_ctl", ["-D", directory + "/data", "-o", options, "-l", directory + "/server.log", "-w", "-t", "30", "start"],
                     asPostgres: true)
    }

    /// Stops the server and deletes its directory.
    package func destroy() {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs a program to its end; throws with its output when it fails. The output goes through
    /// a file, not a pipe: `pg_ctl start` leaves a server running that would hold a pipe open.
    @discardableResult
    private static func run(_ program: String, _ arguments: [String], asPostgres: Bool = false) throws -> String {
        // Through a shell that first closes every inherited descriptor above 2: Foundation learns
        // that a child exited when a descriptor it shares with it closes, and the server that
        // `pg_ctl start` leaves running would otherwise hold it open for good.
        let command = asPostgres && getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", program] + arguments : [program] + arguments
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", #"for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null; done; exec "$@""#,
                             "sh"] + command
        let capture = NSTemporaryDirectory() + "purser-pg-output-" + UUID().uuidString
        FileManager.default.createFile(atPath: capture, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: capture) }
        guard let output = FileHandle(forWritingAtPath: capture) else { throw ServerError("cannot create \(capture)") }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try? output.close()
        let text = (try? String(contentsOfFile: capture, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw ServerError("\((program as NSString).lastPathComponent) \(arguments.joined(separator: " ")) failed: \(text.suffix(800))")
        }
        return text
    }

    /// Why the test server could not do something.
    package struct ServerError: Error, CustomStringConvertible {
        package let description: String
        init(_ description: String) { self.description = description }
    }
}
