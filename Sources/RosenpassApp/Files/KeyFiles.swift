// Static key files and pre-shared key files (`docs/components.md` §5).

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
/// secret key file holds exactly the raw secret key in one of two layouts, told apart by length
/// (``SecretKeyLayout``). No header, no encoding.
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

    /// Whether `secretKey` belongs to `publicKey`: a ciphertext encapsulated to the public key
    /// decapsulates to the same shared key (Classic McEliece rejects implicitly, so a wrong key
    /// yields a different one rather than an error).
    public static func isPair(publicKey: [UInt8], secretKey: SecretBytes, variant: McElieceVariant) -> Bool {
        var entropy = SystemEntropy()
        let kems = StandardKEMs()
        let sent = kems.encapsulateStatic(variant, publicKey: publicKey, using: &entropy)
        let received = kems.decapsulateStatic(variant, secretKey: secretKey, ciphertext: sent.ciphertext)
        return sent.sharedKey.constantTimeEquals(received)
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

/// The two layouts of a Classic McEliece 460896 secret key file. The layout says which software
/// wrote the key, not which ciphertext format (round 3 or round 4) a handshake uses: the public key
/// is the same, rosenpass converts the secret key to answer both formats, and the format it sends is
/// set per peer (`mceliece_variant`, or learned from the peer).
public enum SecretKeyLayout {
    /// A line on the layout of a secret key of `variant`'s length, and who reads and writes it.
    public static func describe(_ variant: McElieceVariant) -> String {
        switch variant {
        case .round3:
            return "13568 bytes, the layout of liboqs up to 0.8 (s, g, control bits): written and read by Rosenpass 0.2.x, the reference "
                + "since 2026-09 and `rosenpass gen-keys`; go-rosenpass needs the 13608-byte layout (rosenpass convert-key)"
        case .round4:
            return "13608 bytes, the NIST layout of the round-3 and round-4 submissions (δ, c, g, α, s): written and read by go-rosenpass, "
                + "the reference from 2024 to 2026-08 (liboqs 0.9 and later) and `rosenpass gen-keys --mceliece-variant round4`; "
                + "Rosenpass 0.2.x needs the 13568-byte layout (rosenpass convert-key)"
        }
    }
}

/// The optional Rosenpass pre-shared key: a file of standard base64 encoding 32 bytes
/// (`docs/components.md` §5; `wg genpsk` output works).
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

/// The output-key file `key_out` (`docs/components.md` §5, §6.1): the 32-byte key as 44 characters of
/// base64, no newline, mode 0600, replaced atomically each time.
public enum KeyOutputFile {
    /// Writes `key` to `path`.
    public static func write(_ key: SecretBytes, to path: String) throws(AppError) {
        var text = SecretBytes(zeros: Base64Text.encodedCount(key.count))
        key.withUnsafeBytes { raw in text.withUnsafeMutableBytes { Base64Text.encode(raw, into: $0) } }
        try withAppErrors { try text.withUnsafeBytes { try FileIO.writeAtomically(path, bytes: $0, mode: 0o600) } }
    }
}
