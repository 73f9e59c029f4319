// Static key files and pre-shared key files (`components.md` §5).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassCrypto
import RosenpassProtocol

/// The raw static key files, byte-compatible with the reference's.
///
/// A public key file holds exactly the 524160 raw bytes of a Classic McEliece 460896 public key. A
/// secret key file holds exactly the raw secret key: 13568 bytes in the round-3 layout or 13608 bytes
/// in the round-4 layout (the variant is told by the length). No header, no encoding.
public enum StaticKeyFiles {
    /// Loads a public key.
    ///
    /// - Throws: ``AppError`` naming the file when it cannot be read or has the wrong size.
    public static func loadPublicKey(_ path: String) throws(AppError) -> [UInt8] {
        let expected = McElieceVariant.publicKeyCount
        let bytes = try FileIO.readBytes(
            path, limit: expected,
            tooLong: .keyFile(path, "not a Classic McEliece 460896 public key: the file is longer than \(expected) bytes"))
        guard bytes.count == expected else {
            throw .keyFile(path, "not a Classic McEliece 460896 public key: expected \(expected) bytes, the file has \(bytes.count)")
        }
        return bytes
    }

    /// Loads a secret key and tells its McEliece variant from its length.
    ///
    /// - Throws: ``AppError`` naming the file when it cannot be read, has the wrong size, or can be
    ///   read or written by its group or others (with the `chmod 600` command that fixes it).
    public static func loadSecretKey(_ path: String) throws(AppError) -> (key: SecretBytes, variant: McElieceVariant) {
        let longest = McElieceVariant.allCases.map(\.secretKeyCount).max()!
        let expected = "expected 13568 bytes (round 3) or 13608 bytes (round 4)"
        let key = try FileIO.readSecret(
            path, limit: longest, checkPermissions: true,
            tooLong: .keyFile(path, "not a Classic McEliece 460896 secret key: \(expected), the file is longer"))
        guard let variant = McElieceVariant(secretKeyCount: key.count) else {
            throw .keyFile(path, "not a Classic McEliece 460896 secret key: \(expected), the file has \(key.count)")
        }
        return (key, variant)
    }

    /// Writes a key pair: the secret key with mode 0600 and the public key with mode 0644, each
    /// atomically (a new file renamed into place, so an interrupted run leaves no partial key).
    public static func write(publicKey: [UInt8], secretKey: SecretBytes, publicPath: String, secretPath: String) throws(AppError) {
        try withAppErrors {
            try secretKey.withUnsafeBytes { try FileIO.writeAtomically(secretPath, bytes: $0, mode: 0o600) }
            try publicKey.withUnsafeBytes { try FileIO.writeAtomically(publicPath, bytes: $0, mode: 0o644) }
        }
    }
}

/// The optional Rosenpass pre-shared key: a file of standard base64 encoding 32 bytes
/// (`components.md` §5; `wg genpsk` output works).
public enum PresharedKeyFile {
    /// The reference reads at most this many bytes.
    static let readLimit = 1000

    /// Loads the key.
    ///
    /// - Returns: the 32 bytes, and a warning when the file is readable by others (the reference
    ///   never checked, so such files are accepted, with advice).
    /// - Throws: ``AppError`` naming the file when it cannot be read or is not base64 of 32 bytes.
    public static func load(_ path: String) throws(AppError) -> (key: SecretBytes, warning: String?) {
        let fd = try FileIO.openForReading(path)
        var warning: String?
        do {
            try FileIO.requirePrivate(fd, path: path)
        } catch {
            warning = "\(path): the pre-shared key is readable by other users; fix it with: chmod 600 \(ShellQuoting.quote(path))"
        }
        close(fd)
        let text = try FileIO.readSecret(path, limit: readLimit, checkPermissions: false)
        guard let key = text.withUnsafeBytes({ Base64Text.decode($0) }), key.count == 32 else {
            throw .keyFile(path, "not a pre-shared key: expected standard base64 of 32 bytes (44 characters, as `wg genpsk` writes)")
        }
        return (key, warning)
    }
}

/// The output-key file `key_out` (`components.md` §5, §6.1): the 32-byte key as 44 characters of
/// base64, no newline, mode 0600, replaced atomically each time.
public enum KeyOutputFile {
    /// Writes `key` to `path`.
    public static func write(_ key: SecretBytes, to path: String) throws(AppError) {
        var text = SecretBytes(zeros: Base64Text.encodedCount(key.count))
        key.withUnsafeBytes { raw in text.withUnsafeMutableBytes { Base64Text.encode(raw, into: $0) } }
        try withAppErrors { try text.withUnsafeBytes { try FileIO.writeAtomically(path, bytes: $0, mode: 0o600) } }
    }
}
