// A peer's public key file, read again whenever a handshake needs the key (docs/scaling.md).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassProtocol

/// A peer's public key file as a ``PublicKeySource``: the daemon keeps the path and the file's
/// identity, not the 524160 bytes, and reads them with one `pread` when a handshake needs them.
///
/// Reading again is cheap against the handshake itself, which hashes the key two or three times. A
/// file with the identity it had when it was first read (device, inode, size, modification and
/// change times) has not been written since, so its bytes are the ones whose peer id the server
/// holds; otherwise the server checks the bytes against the peer id before using them. Plain
/// `read` rather than a memory map, because a map of a file that someone truncates kills the
/// process with SIGBUS.
struct PublicKeyFile: PublicKeySource {
    /// The path, as configured.
    let path: String
    /// The file as it was when first read.
    let identity: FileIdentity

    var description: String { path }

    /// Reads the key for the first time.
    ///
    /// - Returns: the bytes (for the peer id and the configuration checks), and the source to read
    ///   them again; no source when the path is not a regular file (a pipe can be read only once,
    ///   so that key stays in memory).
    /// - Throws: ``AppError`` naming the file when it cannot be read or is not a public key.
    static func open(_ path: String) throws(AppError) -> (bytes: [UInt8], file: PublicKeyFile?) {
        let (bytes, identity) = try readKey(path)
        return (bytes, identity.isRegularFile ? PublicKeyFile(path: path, identity: identity) : nil)
    }

    func read() throws(PublicKeyReadError) -> PublicKeyRead {
        do {
            let (bytes, identity) = try Self.readKey(path)
            return PublicKeyRead(bytes: bytes, mayHaveChanged: identity != self.identity)
        } catch {
            throw PublicKeyReadError(error.description)
        }
    }

    /// The key's bytes and the identity of the file they came from. A file that changes while it
    /// is read is read again (at most three times).
    private static func readKey(_ path: String) throws(AppError) -> ([UInt8], FileIdentity) {
        let expected = McElieceVariant.publicKeyCount
        let fd = try FileIO.openForReading(path)
        defer { close(fd) }
        for _ in 0..<3 {
            let before = try FileIdentity(fd, path: path)
            guard before.isRegularFile else {
                // A pipe or device: read it the general way, bounded and with a time limit.
                return (try StaticKeyFiles.loadPublicKey(path), before)
            }
            guard before.size == expected else {
                throw .keyFile(
                    path, "not a Classic McEliece 460896 public key: expected \(expected) bytes, the file has \(before.size)")
            }
            var bytes = [UInt8](repeating: 0, count: expected)
            var total = 0
            while total < expected {
                let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + total, expected - total, off_t(total)) }
                if got < 0 && errno == EINTR { continue }
                guard got >= 0 else { throw .system("read", path, errno: errno) }
                guard got > 0 else { break }
                total += got
            }
            let after = try FileIdentity(fd, path: path)
            if after == before && total == expected { return (bytes, after) }
        }
        throw .keyFile(path, "the file kept changing while it was read")
    }
}

/// What `fstat` says identifies one version of a file: the same device, inode, size, modification
/// and change time mean nobody wrote it in between.
struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int
    var modified: timespec
    var changed: timespec
    var isRegularFile: Bool

    init(_ fd: Int32, path: String) throws(AppError) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .system("fstat", path, errno: errno) }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int(info.st_size)
        modified = info.st_mtim
        changed = info.st_ctim
        isRegularFile = info.st_mode & S_IFMT == S_IFREG
    }

    static func == (lhs: FileIdentity, rhs: FileIdentity) -> Bool {
        lhs.device == rhs.device && lhs.inode == rhs.inode && lhs.size == rhs.size
            && lhs.modified.tv_sec == rhs.modified.tv_sec && lhs.modified.tv_nsec == rhs.modified.tv_nsec
            && lhs.changed.tv_sec == rhs.changed.tv_sec && lhs.changed.tv_nsec == rhs.changed.tv_nsec
            && lhs.isRegularFile == rhs.isRegularFile
    }
}
