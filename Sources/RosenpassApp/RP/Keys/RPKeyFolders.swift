// `rp genkey` and `rp pubkey`: the key folders of `docs/components.md` §8.2.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassBroker
import RosenpassCrypto
import RosenpassProtocol

/// The two folders `rp` works with (`docs/components.md` §8.2).
///
/// The private folder (mode 0700), made by `rp genkey`:
/// - `wgsk`: the WireGuard private key, base64 of 32 random bytes, mode 0600;
/// - `pqsk`: the raw Classic McEliece 460896 secret key, mode 0600;
/// - `pqpk`: the raw public key (524160 bytes).
///
/// The public folder, made by `rp pubkey` and given to peers:
/// - `wgpk`: the WireGuard public key, base64 of X25519(`wgsk`);
/// - `pqpk`: a copy of the private folder's `pqpk`;
/// - `psk` (optional, added by hand): a base64 Rosenpass pre-shared key that `exchange` uses.
///
/// Base64 files are written without a newline; one trailing line ending is accepted when reading,
/// so `wg genkey`, `wg pubkey` and `wg genpsk` output works. Secret files are refused when their
/// group or others can read or write them.
public enum RPKeyFolders {
    /// The WireGuard private key file name.
    public static let wireGuardSecretKey = "wgsk"
    /// The WireGuard public key file name.
    public static let wireGuardPublicKey = "wgpk"
    /// The static secret key file name.
    public static let staticSecretKey = "pqsk"
    /// The static public key file name.
    public static let staticPublicKey = "pqpk"
    /// The optional Rosenpass pre-shared key file name.
    public static let presharedKey = "psk"

    /// The reference reads base64 key files into a buffer of this many bytes (32 × 5 / 3).
    static let base64FileLimit = 53

    /// `rp genkey DIR`: creates the folder (and its parents) with mode 0700 if needed, then writes
    /// each key that is missing. Existing keys are never replaced.
    ///
    /// Fixed against the reference (`docs/components.md` §8.2): an existing folder is accepted when its
    /// permission bits are exactly 0700 (the reference compared the whole `st_mode`, file-type bits
    /// included, so it refused every existing folder); it must also belong to us. When only one
    /// of `pqsk` and `pqpk` exists, that is an error rather than a silently incomplete folder.
    ///
    /// - Parameters:
    ///   - directory: the private key folder.
    ///   - variant: the Classic McEliece secret-key layout for a new pair (round 3 by default,
    ///     what deployed Rosenpass uses; `docs/protocol.md` §1.1).
    ///   - report: receives the "already exists … not regenerating" notes (stderr in `rp`).
    /// - Throws: ``AppError`` naming the folder or file and the problem.
    public static func generate(
        privateKeysDir directory: String, variant: McElieceVariant = .round3, report: (String) -> Void
    ) throws(AppError) {
        try preparePrivateFolder(directory)

        let wgsk = join(directory, wireGuardSecretKey)
        if FileIO.exists(wgsk) {
            report("WireGuard secret key already exists at \(KeyOutputLine.rustDebugQuoted(wgsk)): not regenerating")
        } else {
            try writeBase64Secret(SecretBytes.random(count: 32), to: wgsk)
        }

        let pqsk = join(directory, staticSecretKey)
        let pqpk = join(directory, staticPublicKey)
        switch (FileIO.exists(pqsk), FileIO.exists(pqpk)) {
        case (false, false):
            let progress = Progress(message: "Generating a Classic McEliece 460896 key pair")
            let pair = StaticKeyGenerator.generate(variant)
            progress.finish()
            try StaticKeyFiles.write(publicKey: pair.publicKey, secretKey: pair.secretKey, publicPath: pqpk, secretPath: pqsk)
        case (true, true):
            report("Rosenpass keys already exist in \(KeyOutputLine.rustDebugQuoted(directory)): not regenerating")
        case (true, false):
            throw .keyFile(pqpk, "missing, but \(staticSecretKey) exists: the Rosenpass key pair is incomplete; restore \(staticPublicKey), or remove \(staticSecretKey) to make a new pair")
        case (false, true):
            throw .keyFile(pqsk, "missing, but \(staticPublicKey) exists: the Rosenpass key pair is incomplete; restore \(staticSecretKey), or remove \(staticPublicKey) to make a new pair")
        }
    }

    /// `rp pubkey PRIVATE PUBLIC`: creates the folder `PUBLIC` (which must not exist) holding
    /// `wgpk` and a copy of `pqpk`.
    ///
    /// The keys are loaded and checked first, so nothing is created when the private folder is
    /// incomplete; a failure while writing removes what was written.
    ///
    /// - Throws: ``AppError`` naming the folder or file and the problem.
    public static func derivePublic(privateKeysDir: String, publicKeysDir: String) throws(AppError) {
        guard !FileIO.exists(publicKeysDir) else {
            throw .runtime("Directory \(KeyOutputLine.rustDebugQuoted(publicKeysDir)) already exists")
        }
        let secret = try loadWireGuardSecretKey(join(privateKeysDir, wireGuardSecretKey))
        let publicKey = try WireGuardKeys.publicKey(of: secret)
        let staticPublic = try StaticKeyFiles.loadPublicKey(join(privateKeysDir, staticPublicKey))

        let created = try makeFolders(publicKeysDir, mode: 0o777)
        do throws(AppError) {
            let text = Array(Base64Text.encode(publicKey.rawBytes).utf8)
            try withAppErrors {
                try text.withUnsafeBytes { try FileIO.writeAtomically(join(publicKeysDir, wireGuardPublicKey), bytes: $0, mode: 0o644) }
                try staticPublic.withUnsafeBytes { try FileIO.writeAtomically(join(publicKeysDir, staticPublicKey), bytes: $0, mode: 0o644) }
            }
        } catch {
            unlink(join(publicKeysDir, wireGuardPublicKey))
            unlink(join(publicKeysDir, staticPublicKey))
            for folder in created.reversed() { rmdir(folder) }
            throw error
        }
    }

    /// Loads a WireGuard private key file (`wgsk`): base64 of 32 bytes, not readable by others.
    public static func loadWireGuardSecretKey(_ path: String) throws(AppError) -> SecretBytes {
        let text = try FileIO.readSecret(
            path, limit: base64FileLimit, checkPermissions: true,
            tooLong: .keyFile(path, "not a WireGuard private key: the file is longer than \(base64FileLimit) bytes (expected 44 characters of base64)"))
        guard let key = text.withUnsafeBytes({ Base64Text.decode($0) }), key.count == 32 else {
            throw .keyFile(path, "not a WireGuard private key: expected standard base64 of 32 bytes (44 characters, as `rp genkey` or `wg genkey` writes)")
        }
        return key
    }

    /// Loads a WireGuard public key file (`wgpk`): base64 of 32 bytes.
    public static func loadWireGuardPublicKey(_ path: String) throws(AppError) -> WireGuardPublicKey {
        let text = try FileIO.readBytes(
            path, limit: base64FileLimit,
            tooLong: .keyFile(path, "not a WireGuard public key: the file is longer than \(base64FileLimit) bytes (expected 44 characters of base64)"))
        let decoded = text.withUnsafeBytes { Base64Text.decode($0) }
        guard let decoded, decoded.count == 32, let key = WireGuardPublicKey(decoded.unprotectedArray()) else {
            throw .keyFile(path, "not a WireGuard public key: expected standard base64 of 32 bytes (44 characters, as `rp pubkey` or `wg pubkey` writes)")
        }
        return key
    }

    /// `directory/name`.
    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Writes 32 secret bytes as base64 without a newline, mode 0600, atomically.
    private static func writeBase64Secret(_ key: SecretBytes, to path: String) throws(AppError) {
        var text = SecretBytes(zeros: Base64Text.encodedCount(key.count))
        key.withUnsafeBytes { raw in text.withUnsafeMutableBytes { Base64Text.encode(raw, into: $0) } }
        try withAppErrors { try text.withUnsafeBytes { try FileIO.writeAtomically(path, bytes: $0, mode: 0o600) } }
    }

    /// Makes sure the private key folder exists, is a folder of ours, and has mode 0700.
    static func preparePrivateFolder(_ directory: String) throws(AppError) {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw .keyFile(directory, "exists and is not a directory")
            }
            let permissions = info.st_mode & 0o777
            guard permissions == 0o700 else {
                throw .runtime(
                    "Directory \(KeyOutputLine.rustDebugQuoted(directory)) has incorrect permissions: please use 0700 for proper security (it has \(String(permissions, radix: 8)); fix it with: chmod 700 \(ShellQuoting.quote(directory)))")
            }
            guard info.st_uid == geteuid() else {
                throw .keyFile(
                    directory,
                    "is owned by uid \(info.st_uid), not by us (uid \(geteuid())): its owner could read the secret keys; use a folder of your own")
            }
            return
        }
        guard errno == ENOENT else { throw .system("stat", directory, errno: errno) }
        _ = try makeFolders(directory, mode: 0o700)
        // mkdir's mode is filtered by the umask; the folder must be exactly 0700.
        guard chmod(directory, 0o700) == 0 else { throw .system("chmod", directory, errno: errno) }
    }

    /// Creates `directory` and any missing parents with `mode` (less the umask), as `mkdir -p`.
    /// - Returns: the folders created, outermost first.
    @discardableResult
    static func makeFolders(_ directory: String, mode: mode_t) throws(AppError) -> [String] {
        var missing = [String]()
        var path = directory
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        while !path.isEmpty && path != "/" && !FileIO.exists(path) {
            missing.append(path)
            var parent = FileIO.split(path).0
            while parent.count > 1 && parent.hasSuffix("/") { parent.removeLast() }
            path = parent
        }
        var created = [String]()
        for folder in missing.reversed() {
            if mkdir(folder, mode) == 0 {
                created.append(folder)
            } else if errno != EEXIST {
                let code = errno
                for made in created.reversed() { rmdir(made) }
                throw .system("mkdir", folder, errno: code)
            }
        }
        return created
    }
}
