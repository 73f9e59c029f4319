// Reading and writing files with POSIX calls: exact errors, bounded reads, wiped buffers for
// secrets, and atomic replacement.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassCrypto

/// File operations for configurations and keys. Every error names the file.
enum FileIO {
    /// How long a read from a pipe, a named pipe (FIFO) or a device may wait for data before the
    /// file is given up on: a key path that names a FIFO nobody writes to must not hang `validate`
    /// or the daemon's start-up.
    static let pipeWaitMilliseconds: Int32 = 10_000

    /// Opens `path` for reading. The open itself never blocks (`O_NONBLOCK`: opening a FIFO without
    /// a writer would); regular files and folders then read in blocking mode, anything else (pipes,
    /// FIFOs, devices) stays non-blocking for ``readBounded(_:path:into:waitMilliseconds:)``.
    static func openForReading(_ path: String) throws(AppError) -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .system("open", path, errno: errno) }
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG || info.st_mode & S_IFMT == S_IFDIR {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        }
        return fd
    }

    /// Reads up to `limit + 1` bytes of `fd` into `buffer` (which must hold that many) and returns
    /// how many it read; more than `limit` means the file is too long. A pipe or device that has
    /// nothing to read for `waitMilliseconds` is an error, not a wait without end.
    private static func readBounded(
        _ fd: Int32, path: String, into buffer: UnsafeMutableRawBufferPointer, waitMilliseconds: Int32 = pipeWaitMilliseconds
    ) throws(AppError) -> Int {
        var total = 0
        var waitedForWriter = false
        /// Waits up to `waitMilliseconds` for something to read; false when nothing came.
        func waitForData() throws(AppError) -> Bool {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, waitMilliseconds)
            if ready < 0 && errno != EINTR { throw .system("poll", path, errno: errno) }
            return ready != 0
        }
        let nothingToRead = AppError.keyFile(
            path,
            "nothing to read within \(waitMilliseconds / 1000) s: this is a pipe, FIFO or device that no one writes to; give the path of a regular file")
        while total < buffer.count {
            let got = read(fd, buffer.baseAddress! + total, buffer.count - total)
            if got < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    guard try waitForData() else { throw nothingToRead }
                    continue
                }
                throw .system("read", path, errno: errno)
            }
            if got == 0 {
                // A FIFO that no writer has opened yet reads as end of file at once (we opened it
                // non-blocking); wait once for a writer, as a blocking open would have, but not forever.
                var info = stat()
                if total == 0 && !waitedForWriter && fstat(fd, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO {
                    waitedForWriter = true
                    guard try waitForData() else { throw nothingToRead }
                    continue
                }
                break
            }
            total += got
        }
        return total
    }

    /// The whole of a public file of at most `limit` bytes; a longer file throws `tooLong`.
    static func readBytes(
        _ path: String, limit: Int, tooLong: @autoclosure () -> AppError? = nil, waitMilliseconds: Int32 = pipeWaitMilliseconds
    ) throws(AppError) -> [UInt8] {
        let fd = try openForReading(path)
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: limit + 1)
        let count = try withAppErrors {
            try buffer.withUnsafeMutableBytes { raw in try readBounded(fd, path: path, into: raw, waitMilliseconds: waitMilliseconds) }
        }
        guard count <= limit else { throw tooLong() ?? .keyFile(path, "file too long: more than \(limit) bytes") }
        return Array(buffer.prefix(count))
    }

    /// A text file of at most `limit` bytes, which must be UTF-8.
    static func readText(_ path: String, limit: Int) throws(AppError) -> String {
        let bytes = try readBytes(path, limit: limit)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .config(file: path, "the file is not UTF-8 text")
        }
        return text
    }

    /// A secret file of at most `limit` bytes, read straight into a wiped buffer.
    ///
    /// - Parameter checkPermissions: refuse a regular file that group or others may read or write.
    static func readSecret(
        _ path: String, limit: Int, checkPermissions: Bool, tooLong: @autoclosure () -> AppError? = nil
    ) throws(AppError) -> SecretBytes {
        let fd = try openForReading(path)
        defer { close(fd) }
        if checkPermissions { try requirePrivate(fd, path: path) }
        var buffer = SecretBytes(zeros: limit + 1)
        let count = try withAppErrors { try buffer.withUnsafeMutableBytes { raw in try readBounded(fd, path: path, into: raw) } }
        guard count <= limit else { throw tooLong() ?? .keyFile(path, "file too long: more than \(limit) bytes") }
        return buffer.withUnsafeBytes { SecretBytes(copying: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    /// Refuses a secret file that others can read or change.
    ///
    /// Only regular files are checked: a pipe or `/dev/stdin` carries no meaningful mode. One
    /// exception: in systemd's credentials directory (`LoadCredential=`, `$CREDENTIALS_DIRECTORY`,
    /// private to the service) systemd may grant the service's user access through an ACL, which
    /// shows as group read permission (mode 0440); there a file that only group can read, and nobody
    /// but its owner can change, is accepted.
    static func requirePrivate(
        _ fd: Int32, path: String, credentialsDirectory: String? = FileIO.credentialsDirectory
    ) throws(AppError) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .system("fstat", path, errno: errno) }
        guard info.st_mode & S_IFMT == S_IFREG else { return }
        if info.st_mode & 0o026 == 0, let directory = credentialsDirectory, isInside(path, directory: directory) { return }
        let exposed = info.st_mode & 0o066
        if exposed != 0 {
            let who = exposed & 0o060 != 0 && exposed & 0o006 != 0 ? "group and others" : exposed & 0o060 != 0 ? "its group" : "others"
            throw .keyFile(
                path,
                "secret key file is accessible by \(who) (mode \(String(info.st_mode & 0o7777, radix: 8))); refusing to use it. Fix it with: chmod 600 \(ShellQuoting.quote(path))")
        }
    }

    /// systemd's credentials directory of this service, if it runs under one (`$CREDENTIALS_DIRECTORY`).
    static var credentialsDirectory: String? {
        guard let value = getenv("CREDENTIALS_DIRECTORY") else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    /// Whether `path`, with every symlink resolved, lies inside `directory` (resolved likewise).
    static func isInside(_ path: String, directory: String) -> Bool {
        guard let file = realpath(path, nil) else { return false }
        defer { free(file) }
        guard let folder = realpath(directory, nil) else { return false }
        defer { free(folder) }
        let base = String(cString: folder)
        return String(cString: file).hasPrefix(base.hasSuffix("/") ? base : base + "/")
    }

    /// Whether something exists at `path` (without following a final symlink).
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Whether `path` is a folder (following symlinks).
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// Whether `path` is a regular file (following symlinks).
    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }

    /// Replaces `path` with `bytes` atomically: the bytes go to a new file with `mode` in the same
    /// folder, are flushed, and the file is renamed over `path`. A reader sees the old contents or
    /// the new ones, never a mix, and a crash leaves no half-written key behind.
    static func writeAtomically(_ path: String, bytes: UnsafeRawBufferPointer, mode: mode_t) throws(AppError) {
        let (directory, name) = split(path)
        var suffix = [UInt8](repeating: 0, count: 6)
        suffix.withUnsafeMutableBytes { SystemRandom.fill($0) }
        let temporary = directory + "." + name + "." + suffix.map { String($0, radix: 16) }.joined() + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else {
            let code = errno
            try checkWritable(path)  // names the cause in the user's terms when it can
            throw .system("creating a temporary file next to it (open)", path, errno: code)
        }
        var succeeded = false
        defer {
            if !succeeded { unlink(temporary) }
        }
        do {
            defer { close(fd) }
            try fill(fd, path: path, mode: mode, bytes: bytes)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            try checkWritable(path)
            throw .system("rename", path, errno: code)
        }
        succeeded = true
    }

    /// Checks that a file can be written at `path` (as ``writeAtomically(_:bytes:mode:)`` writes it,
    /// through a new file in the same folder): the path is not a folder, its folder exists and we
    /// may create files there. Commands that work before they write (key generation) call it first,
    /// so that a typo fails at once and the error names the path the user gave.
    ///
    /// - Throws: ``AppError`` naming `path` and the problem.
    static func checkWritable(_ path: String) throws(AppError) {
        guard !path.isEmpty else { throw .runtime("cannot write a file with an empty path") }
        guard !isDirectory(path) else { throw .runtime("cannot write \(path): it is a folder; give a file name") }
        let (directory, _) = split(path)
        let folder = directory.isEmpty ? "." : directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        guard exists(folder) else { throw .runtime("cannot write \(path): the folder \(folder) does not exist") }
        guard isDirectory(folder) else { throw .runtime("cannot write \(path): \(folder) is not a folder") }
        // The effective ids and capabilities decide, as they will for the write itself.
        guard faccessat(AT_FDCWD, folder, W_OK | X_OK, AT_EACCESS) == 0 else {
            throw .runtime("cannot write \(path): no permission to create files in \(folder) (\(String(cString: strerror(errno))))")
        }
    }

    private static func fill(_ fd: Int32, path: String, mode: mode_t, bytes: UnsafeRawBufferPointer) throws(AppError) {
        // The mode given to open is filtered by the umask; set it exactly.
        guard fchmod(fd, mode) == 0 else { throw .system("fchmod", path, errno: errno) }
        var written = 0
        while written < bytes.count {
            let result = write(fd, bytes.baseAddress! + written, bytes.count - written)
            if result < 0 {
                if errno == EINTR { continue }
                throw .system("write", path, errno: errno)
            }
            written += result
        }
        guard fsync(fd) == 0 else { throw .system("fsync", path, errno: errno) }
    }

    /// `(directory with trailing "/", or "" for the working directory; file name)`.
    static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[...slash]), String(path[path.index(after: slash)...]))
    }

    /// The absolute, symlink-free form of `path` if it exists, else `path` itself.
    static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Quoting for a path shown in a suggested shell command.
enum ShellQuoting {
    static func quote(_ text: String) -> String {
        let safe = text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "/._-+=:@%,".contains($0)) }
        if safe && !text.isEmpty { return text }
        var quoted = "'"
        for character in text {
            quoted += character == "'" ? "'\\''" : String(character)
        }
        return quoted + "'"
    }
}
