// Thin wrappers over the POSIX calls the programs need: reading and writing whole buffers, fd flags,
// inherited fds, unix sockets, pipes, capabilities, clocks.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CRosenpassSystem

/// File-descriptor, clock and process helpers shared by the daemon, `rp` and the broker processes.
public enum POSIX {
    /// The clock every timer of the daemon and the brokers runs on: it never goes backwards and,
    /// on Linux, keeps counting while the machine is suspended (`CLOCK_BOOTTIME`). After a resume
    /// the timers see how long the machine slept: a session that aged past its limit meanwhile is
    /// stale at once and a new handshake starts in the same step, where `CLOCK_MONOTONIC` (which stops
    /// during suspend) would keep a key the peer has long replaced for up to two more minutes.
    #if os(Linux)
    public static let timerClock = CLOCK_BOOTTIME
    #else
    public static let timerClock = CLOCK_MONOTONIC
    #endif

    /// Seconds on ``timerClock`` (for timers; never goes backwards, counts suspended time on Linux).
    public static func monotonicNow() -> Double {
        var spec = timespec()
        clock_gettime(timerClock, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`, for audit log lines.
    public static func utcTimestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var text = [CChar](repeating: 0, count: 32)
        let written = strftime(&text, text.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: text[0..<written].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes all of `bytes` to `fd`, retrying on EINTR and waiting on EAGAIN. Sockets use
    /// `MSG_NOSIGNAL`, so a closed peer gives EPIPE rather than SIGPIPE.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, context: String) throws {
        var offset = 0
        while offset < bytes.count {
            let pointer = bytes.baseAddress! + offset
            var written = send(fd, pointer, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if written < 0 && errno == ENOTSOCK {
                written = write(fd, pointer, bytes.count - offset)
            }
            if written < 0 {
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK {
                    _ = waitFor(fd, events: Int16(POLLOUT), timeoutMilliseconds: 1000)
                    continue
                }
                throw SystemError.failed("write", context, errno: code)
            }
            offset += written
        }
    }

    /// Writes all of `bytes` to `fd` (see the buffer variant).
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], context: String) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0, context: context) }
    }

    /// One `read(2)` into `buffer`, retrying on EINTR. Returns the byte count (0 at end of file), or
    /// `nil` when a non-blocking fd has nothing to read.
    public static func readSome(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, context: String) throws -> Int? {
        while true {
            let got = read(fd, buffer.baseAddress, buffer.count)
            if got >= 0 { return got }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            throw SystemError.failed("read", context, errno: code)
        }
    }

    /// Waits until `fd` has one of `events`; returns the revents, 0 on timeout.
    @discardableResult
    public static func waitFor(_ fd: Int32, events: Int16, timeoutMilliseconds: Int32) -> Int16 {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let result = poll(&entry, 1, timeoutMilliseconds)
            if result < 0 && errno == EINTR { continue }
            return result > 0 ? entry.revents : 0
        }
    }

    /// Sets or clears `O_NONBLOCK` (with F_GETFL/F_SETFL, not the fd flags the reference mixed up, §1.5).
    public static func setNonBlocking(_ fd: Int32, _ enabled: Bool = true) throws {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0 else { throw SystemError.failed("fcntl(F_GETFL)", "fd \(fd)", errno: errno) }
        let wanted = enabled ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        guard fcntl(fd, F_SETFL, wanted) == 0 else {
            throw SystemError.failed("fcntl(F_SETFL)", "fd \(fd)", errno: errno)
        }
    }

    /// Takes ownership of an fd inherited from the parent, as docs/components.md §2.5 describes: duplicates
    /// it to a new close-on-exec fd, parks `/dev/null` on the old number so it stays harmless, and
    /// returns the new fd.
    public static func claimInheritedDescriptor(_ fd: Int32) throws -> Int32 {
        guard fd >= 0, fcntl(fd, F_GETFD) >= 0 else {
            throw SystemError.failed("fcntl(F_GETFD)", "inherited fd \(fd)", errno: EBADF)
        }
        let owned = fcntl(fd, F_DUPFD_CLOEXEC, 3)
        guard owned >= 0 else { throw SystemError.failed("fcntl(F_DUPFD_CLOEXEC)", "inherited fd \(fd)", errno: errno) }
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        if null >= 0 {
            if dup2(null, fd) >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            close(null)
        }
        return owned
    }

    /// ``claimInheritedDescriptor(_:)`` for an fd that must be a unix stream socket (connected or
    /// listening); `name` says in the error what it was given as (for example `--listen-fd 3`).
    public static func claimInheritedUnixStreamSocket(_ fd: Int32, name: String) throws -> Int32 {
        let owned = try claimInheritedDescriptor(fd)
        guard isUnixStreamSocket(owned) else {
            close(owned)
            throw SystemError.unusable("\(name) is not a unix stream socket")
        }
        return owned
    }

    /// Whether `fd` is a connected or listening unix stream socket.
    public static func isUnixStreamSocket(_ fd: Int32) -> Bool {
        var domain: Int32 = 0
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 else { return false }
        length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 else { return false }
        return domain == AF_UNIX && type == Int32(SOCK_STREAM.rawValue)
    }

    /// Sets send and receive timeouts on a blocking socket.
    public static func setSocketTimeouts(_ fd: Int32, seconds: Int) {
        var value = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The uid, gid and pid of the process at the other end of a unix socket (`SO_PEERCRED`).
    public static func peerCredentials(_ fd: Int32) -> (uid: UInt32, gid: UInt32, pid: Int32)? {
        var credentials = PeerCredentials()
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return nil }
        return (credentials.uid, credentials.gid, credentials.pid)
    }

    /// A connected pair of unix stream sockets, both close-on-exec from the start (no window in which
    /// another thread's spawn could inherit them).
    public static func socketPair(nonBlocking: Bool = false) throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        var type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else {
            throw SystemError.failed("socketpair", "AF_UNIX stream", errno: errno)
        }
        return (fds[0], fds[1])
    }

    /// A pipe, both ends close-on-exec from the start (`pipe2(2)`, so no other thread's spawn can
    /// inherit them).
    public static func pipe(nonBlocking: Bool = false) throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard crp_pipe_cloexec(&fds, nonBlocking ? 1 : 0) == 0 else { throw SystemError.failed("pipe2", "pipe", errno: errno) }
        return (fds[0], fds[1])
    }

    /// Empties this process's effective capability set, keeping the permitted, inheritable and ambient
    /// sets, so that a program it starts still receives its ambient capabilities (the socket handler
    /// under `systemd/rosenpass-broker.service` passes `CAP_NET_ADMIN` on to the privileged broker
    /// without using it itself). Returns what was cleared (bit n = capability n), or `nil` if the
    /// capabilities could not be read or changed.
    public static func clearEffectiveCapabilities() -> UInt64? {
        // struct __user_cap_header_struct { u32 version; int pid; } and, for version 3, two
        // struct __user_cap_data_struct { u32 effective, permitted, inheritable; }.
        var header: [UInt32] = [0x2008_0522, 0]
        var data = [UInt32](repeating: 0, count: 6)
        let read = header.withUnsafeMutableBytes { h in data.withUnsafeMutableBytes { d in crp_capget(h.baseAddress!, d.baseAddress!) } }
        guard read == 0 else { return nil }
        let effective = UInt64(data[0]) | UInt64(data[3]) << 32
        guard effective != 0 else { return 0 }
        data[0] = 0
        data[3] = 0
        header = [0x2008_0522, 0]
        let written = header.withUnsafeMutableBytes { h in data.withUnsafeMutableBytes { d in crp_capset(h.baseAddress!, d.baseAddress!) } }
        return written == 0 ? effective : nil
    }

    /// Accepts every connection waiting on the non-blocking `listener` (each one non-blocking and
    /// close-on-exec from the start) and hands each to `take`. Returns the errno of a failure other
    /// than "none waiting", if any.
    public static func acceptWaitingConnections(_ listener: Int32, _ take: (Int32) -> Void) -> Int32? {
        while true {
            let fd = crp_accept_nonblocking(listener)
            guard fd >= 0 else {
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED ? nil : errno
            }
            take(fd)
        }
    }

    /// Ignores SIGPIPE for the whole process, so writes to a closed pipe report EPIPE instead.
    public static func ignoreSIGPIPE() {
        signal(SIGPIPE, SIG_IGN)
    }
}

/// Linux's `struct ucred` (pid, uid, gid), which the Glibc module does not export without _GNU_SOURCE.
private struct PeerCredentials {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Unix stream sockets by path.
public enum UnixSocket {
    static func address(_ path: String) throws -> (sockaddr_un, socklen_t) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else {
            throw SystemError.unusable(
                "socket path \(path) must be 1 to \(capacity - 1) bytes, it is \(bytes.count)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        return (address, length)
    }

    /// Connects to the unix stream socket at `path`. The fd is close-on-exec and blocking.
    public static func connect(path: String) throws -> Int32 {
        let (address, length) = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError.failed("socket", path, errno: errno) }
        var copy = address
        let result = withUnsafePointer(to: &copy) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        if result != 0 {
            let code = errno
            close(fd)
            throw SystemError.failed("connect", path, errno: code)
        }
        return fd
    }

    /// Binds and listens at `path`, creating the socket file with `mode` (never wider than the
    /// requested mode, even for an instant: the umask is narrowed around `bind`) and, when given,
    /// handing it to group `gid`.
    ///
    /// A socket file already at `path` is only removed when nothing answers on it (a stale socket of a
    /// process that died); a live socket, or any file that is not a socket, is an error, so the
    /// handler never takes over another one's socket or deletes a regular file.
    public static func listen(path: String, mode: mode_t, gid: gid_t?) throws -> Int32 {
        let (address, length) = try address(path)
        var status = stat()
        if lstat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFSOCK else {
                throw SystemError.unusable("\(path) exists and is not a socket; not replacing it")
            }
            if let live = try? connect(path: path) {
                close(live)
                throw SystemError.unusable("\(path) is in use by another process")
            }
            guard unlink(path) == 0 else { throw SystemError.failed("unlink (stale socket)", path, errno: errno) }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError.failed("socket", path, errno: errno) }
        let previousMask = umask(0o177)
        var copy = address
        let bound = withUnsafePointer(to: &copy) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        let bindErrno = errno
        umask(previousMask)
        guard bound == 0 else {
            close(fd)
            throw SystemError.failed("bind", path, errno: bindErrno)
        }
        do {
            if let gid {
                guard chown(path, UInt32.max, gid) == 0 else { throw SystemError.failed("chown", path, errno: errno) }
            }
            guard chmod(path, mode) == 0 else { throw SystemError.failed("chmod", path, errno: errno) }
            guard Glibc.listen(fd, 64) == 0 else { throw SystemError.failed("listen", path, errno: errno) }
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        return fd
    }
}
