import Crypto
import PurserCore

/// The Ed25519 private key that signs a decision log's checkpoints, with the id the
/// checkpoints name it by (docs/decision-log.md, "Keys").
///
/// Its file is one line, `purser-ed25519-private:<key id>:<base64 of the 32-byte seed>`, that
/// only its owner may read: ``read(path:)`` refuses a file that its group or others can read,
/// as ssh does.
public struct DecisionLogSigningKey: Sendable {
    /// The id checkpoints name this key by.
    public let keyID: String
    /// The 32-byte seed. (Kept as bytes: swift-crypto's key types are not `Sendable`.)
    let seed: [UInt8]

    /// The first word of a private key file.
    static let fileTag = "purser-ed25519-private"
    /// The longest key file read.
    static let maxFileBytes = 4096

    /// A key from its 32-byte seed.
    public init(keyID: String, rawRepresentation: [UInt8]) throws(DecisionLogError) {
        try DecisionLogPublicKey.checkKeyID(keyID)
        guard rawRepresentation.count == 32, (try? Curve25519.Signing.PrivateKey(rawRepresentation: rawRepresentation)) != nil else {
            throw DecisionLogError("an Ed25519 private key is 32 bytes, not \(rawRepresentation.count)")
        }
        self.keyID = keyID
        self.seed = rawRepresentation
    }

    /// A new random key.
    public static func generate(keyID: String) throws(DecisionLogError) -> DecisionLogSigningKey {
        try DecisionLogSigningKey(keyID: keyID, rawRepresentation: Array(Curve25519.Signing.PrivateKey().rawRepresentation))
    }

    /// The public half, which verifiers are given.
    public var publicKey: DecisionLogPublicKey {
        // The seed was checked when the key was made.
        let bytes = (try? Curve25519.Signing.PrivateKey(rawRepresentation: seed)).map { Array($0.publicKey.rawRepresentation) } ?? []
        return DecisionLogPublicKey(checkedKeyID: keyID, bytes: bytes)
    }

    /// The key file's text: `purser-ed25519-private:<key id>:<base64>` and a newline.
    public var fileText: String {
        "\(Self.fileTag):\(keyID):\(Base64.encode(seed))\n"
    }

    /// The signature of `message`.
    func signature(for message: [UInt8]) throws(DecisionLogError) -> [UInt8] {
        do {
            return Array(try Curve25519.Signing.PrivateKey(rawRepresentation: seed).signature(for: message))
        } catch {
            throw DecisionLogError("cannot sign a checkpoint with key \(keyID): \(error)")
        }
    }

    /// Reads a private key file, refusing one that its group or others may read.
    public static func read(path: String) throws(DecisionLogError) -> DecisionLogSigningKey {
        try KeyFile.load(path, tag: fileTag, isPrivate: true) { (keyID, bytes) throws(DecisionLogError) in
            try DecisionLogSigningKey(keyID: keyID, rawRepresentation: bytes)
        }
    }

    /// Writes the key to a new file that only its owner can read (mode 0600); refuses to
    /// overwrite an existing file.
    public func write(to path: String) throws(DecisionLogError) {
        try KeyFile.create(path, text: fileText, permissions: 0o600)
    }
}

/// The Ed25519 public key that checks a decision log's checkpoints, with its key id.
///
/// Its file is one line, `purser-ed25519-public:<key id>:<base64 of the 32-byte key>`.
public struct DecisionLogPublicKey: Sendable {
    /// The id checkpoints name this key by.
    public let keyID: String
    /// The key's 32 bytes.
    let bytes: [UInt8]

    /// The first word of a public key file.
    static let fileTag = "purser-ed25519-public"

    /// A key whose id was checked.
    init(checkedKeyID: String, bytes: [UInt8]) {
        self.keyID = checkedKeyID
        self.bytes = bytes
    }

    /// A key from its 32 bytes.
    public init(keyID: String, rawRepresentation: [UInt8]) throws(DecisionLogError) {
        try Self.checkKeyID(keyID)
        guard rawRepresentation.count == 32, (try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation)) != nil else {
            throw DecisionLogError("an Ed25519 public key is 32 bytes, not \(rawRepresentation.count)")
        }
        self.init(checkedKeyID: keyID, bytes: rawRepresentation)
    }

    /// The key file's text: `purser-ed25519-public:<key id>:<base64>` and a newline.
    public var fileText: String {
        "\(Self.fileTag):\(keyID):\(Base64.encode(bytes))\n"
    }

    /// Whether `signature` signs `message`.
    func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes) else { return false }
        return key.isValidSignature(signature, for: message)
    }

    /// Reads a public key file.
    public static func read(path: String) throws(DecisionLogError) -> DecisionLogPublicKey {
        try KeyFile.load(path, tag: fileTag, isPrivate: false) { (keyID, bytes) throws(DecisionLogError) in
            try DecisionLogPublicKey(keyID: keyID, rawRepresentation: bytes)
        }
    }

    /// Writes the key to a new file (mode 0644); refuses to overwrite an existing file.
    public func write(to path: String) throws(DecisionLogError) {
        try KeyFile.create(path, text: fileText, permissions: 0o644)
    }

    /// Refuses a key id that is empty, longer than 64 bytes, or has bytes other than
    /// letters, digits, `.`, `_` and `-` (it is written into lines and key files unescaped).
    static func checkKeyID(_ keyID: String) throws(DecisionLogError) {
        let bytes = Array(keyID.utf8)
        let allowed = bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "-")
        }
        guard (1...64).contains(bytes.count), allowed else {
            throw DecisionLogError("the key id '\(keyID)' must be 1 to 64 letters, digits, '.', '_' or '-'")
        }
    }
}

/// Reading and writing the one-line key files.
enum KeyFile {
    /// Reads a key file (`tag:<key id>:<base64>`) and makes its key; a private key file that its
    /// group or others may read is refused, as ssh refuses one.
    static func load<Key>(_ path: String, tag: String, isPrivate: Bool,
                          make: (String, [UInt8]) throws(DecisionLogError) -> Key) throws(DecisionLogError) -> Key {
        let what = isPrivate ? "private key" : "public key"
        let (text, permissions) = try read(path, what: what)
        guard !isPrivate || permissions & 0o077 == 0 else {
            throw DecisionLogError("""
                permissions \(octal(permissions)) for the private key file \(path) are too open: \
                it must not be readable by others (chmod 600 \(path))
                """)
        }
        let (keyID, bytes) = try parse(text, tag: tag, path: path)
        do throws(DecisionLogError) {
            return try make(keyID, bytes)
        } catch {
            throw DecisionLogError("\(path): \(error.message)")
        }
    }

    /// A file's text (at most ``DecisionLogSigningKey/maxFileBytes``) and permission bits.
    static func read(_ path: String, what: String) throws(DecisionLogError) -> (text: [UInt8], permissions: UInt32) {
        let status: FileStatus
        let text: [UInt8]
        do throws(SystemError) {
            let fd = try SystemCalls.open(path)
            defer { try? SystemCalls.close(fd) }
            status = try SystemCalls.status(fd)
            // A device such as /dev/zero is not read at all.
            text = status.kind == .regular
                ? try SystemCalls.readToEnd(fd, limit: DecisionLogSigningKey.maxFileBytes, sizeHint: 128, chunkSize: 1024) : []
        } catch {
            throw DecisionLogError("cannot read the \(what) file \(path): \(error.message)")
        }
        guard status.kind == .regular else { throw DecisionLogError("the \(what) file \(path) is not a regular file") }
        guard text.count <= DecisionLogSigningKey.maxFileBytes else {
            throw DecisionLogError("the \(what) file \(path) is longer than \(DecisionLogSigningKey.maxFileBytes) bytes: not a key file")
        }
        return (text, status.permissions)
    }

    /// The key id and key bytes of `tag:<key id>:<base64>` (one line, a final newline allowed).
    static func parse(_ text: [UInt8], tag: String, path: String) throws(DecisionLogError) -> (keyID: String, bytes: [UInt8]) {
        var body = text[...]
        while let last = body.last, last == 0x0A || last == 0x0D { body.removeLast() }
        let fields = body.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0].elementsEqual(tag.utf8) else {
            throw DecisionLogError("\(path) is not a \(tag) key file: it must be one line, \(tag):<key id>:<base64>")
        }
        guard let bytes = Base64.decode(fields[2]) else { throw DecisionLogError("\(path): the key is not valid base64") }
        return (String(decoding: fields[1], as: UTF8.self), bytes)
    }

    /// Writes `text` to a new file with `permissions`.
    static func create(_ path: String, text: String, permissions: UInt32) throws(DecisionLogError) {
        do throws(SystemError) {
            let fd = try SystemCalls.open(path, .creatingNew, permissions: permissions)
            defer { try? SystemCalls.close(fd) }
            try SystemCalls.setPermissions(fd, permissions)
            try SystemCalls.writeAll(fd, Array(text.utf8))
            try SystemCalls.synchronize(fd)
        } catch {
            throw DecisionLogError(error.isAlreadyExisting
                ? "\(path) already exists: a key file is never overwritten"
                : "cannot write the key file \(path): \(error.message)")
        }
    }

    /// `0644`.
    static func octal(_ permissions: UInt32) -> String {
        "0" + String(permissions & 0o777, radix: 8)
    }
}
