import Foundation

/// Certificates for the tests' TLS servers (`purser serve --tls-cert`, PostgreSQL with `ssl`):
/// a CA of the test's own and a server certificate it signed, made with the `openssl` command.
package enum TestCertificates {
    /// The files one call makes.
    package struct Files: Sendable {
        /// The CA's certificate (PEM), for the client to trust.
        package let ca: String
        /// The server's certificate (PEM), for 127.0.0.1 and localhost, valid for two days.
        package let certificate: String
        /// The server's private key (PEM, unencrypted, mode 0600).
        package let key: String
    }

    /// Makes a CA and a server certificate in `directory`.
    package static func make(in directory: String) throws -> Files {
        let files = Files(ca: directory + "/ca.pem", certificate: directory + "/server.pem", key: directory + "/server.key")
        let caKey = directory + "/ca.key", request = directory + "/server.csr", extensions = directory + "/server.ext"
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                     "-subj", "/CN=Purser test CA", "-keyout", caKey, "-out", files.ca])
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
                     "-keyout", files.key, "-out", request])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: extensions, atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", request, "-CA", files.ca, "-CAkey", caKey, "-CAcreateserial", "-days", "2",
                     "-extfile", extensions, "-out", files.certificate])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: files.key)
        return files
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PostgresTestServer.ServerError("openssl \(arguments.prefix(2).joined(separator: " ")) failed (exit \(process.terminationStatus))")
        }
    }
}
