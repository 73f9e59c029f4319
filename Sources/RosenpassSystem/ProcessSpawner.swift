// Starting child processes with exactly the fds they should have.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Starts helper processes (the socket handler, the privileged broker, `rp`'s wireguard-go) with
/// `posix_spawn`.
public enum ProcessSpawner {
    /// Spawns `executable` with `arguments`, placing each `(source, target)` pair of `descriptors` at
    /// fd `target` in the child. Everything else the parent has open is close-on-exec (all fds this
    /// module opens are), and fds from 3 up that are not targets are closed in the child as well, so
    /// no stray socket keeps a broker alive. Signal mask and SIGPIPE disposition are reset.
    ///
    /// - Parameters:
    ///   - executable: a path, or a bare name looked up in `PATH`.
    ///   - arguments: the arguments after `argv[0]`.
    ///   - descriptors: fds to place in the child; sources must not collide with other targets.
    ///   - environment: the child's environment as `NAME=value` entries; `nil` passes ours on.
    ///   - newProcessGroup: start the child in a process group of its own (a terminal's signals, meant
    ///     for us, then do not reach it).
    /// - Returns: the child's pid.
    public static func spawn(
        executable: String, arguments: [String], descriptors: [(source: Int32, target: Int32)],
        environment: [String]? = nil, newProcessGroup: Bool = false
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        // Move every source above all targets first, so that a source equal to another pair's target
        // cannot be overwritten, and so that dup2 never sees source == target (which would keep CLOEXEC).
        var moved: [(Int32, Int32)] = []
        defer { for (fd, _) in moved { close(fd) } }
        for (source, target) in descriptors {
            let high = fcntl(source, F_DUPFD_CLOEXEC, 100)
            guard high >= 0 else { throw SystemError.failed("fcntl(F_DUPFD_CLOEXEC)", "fd \(source)", errno: errno) }
            moved.append((high, target))
        }
        for (high, target) in moved {
            posix_spawn_file_actions_adddup2(&actions, high, target)
        }
        let targets = Set(descriptors.map(\.target))
        for fd in inheritableDescriptors() where fd > 2 && !targets.contains(fd) {
            posix_spawn_file_actions_addclose(&actions, fd)
        }

        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGUSR2)  // the daemon ignores it; its children should not inherit that
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var argvPointers: [UnsafeMutablePointer<CChar>?] = argv + [nil]
        let envp = (environment ?? []).map { strdup($0) }
        defer { envp.forEach { free($0) } }
        var envPointers: [UnsafeMutablePointer<CChar>?] = envp + [nil]
        var pid: pid_t = 0
        var result: Int32 = 0
        // ETXTBSY: the executable is still open for writing somewhere, typically for the moment a
        // process forked by another thread holds a copy of the writer's descriptor before its exec.
        // It passes within milliseconds; retry for up to half a second.
        for attempt in 0..<50 {
            result = argvPointers.withUnsafeMutableBufferPointer { argvBuffer in
                envPointers.withUnsafeMutableBufferPointer { envBuffer in
                    let childEnvironment = environment == nil ? environ : envBuffer.baseAddress!
                    return executable.contains("/")
                        ? posix_spawn(&pid, executable, &actions, &attributes, argvBuffer.baseAddress!, childEnvironment)
                        : posix_spawnp(&pid, executable, &actions, &attributes, argvBuffer.baseAddress!, childEnvironment)
                }
            }
            guard result == ETXTBSY, attempt < 49 else { break }
            usleep(10_000)
        }
        guard result == 0 else { throw SystemError.failed("posix_spawn", executable, errno: result) }
        return pid
    }

    /// The parent's open fds that lack close-on-exec (from `/proc/self/fd`). Glibc's
    /// `posix_spawn_file_actions_addclosefrom_np` is not visible to Swift, so these are closed one by one.
    static func inheritableDescriptors() -> [Int32] {
        guard let directory = opendir("/proc/self/fd") else { return [] }
        defer { closedir(directory) }
        let own = dirfd(directory)
        var result: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let fd = Int32(name), fd != own else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 && flags & FD_CLOEXEC == 0 { result.append(fd) }
        }
        return result
    }

    /// Ends child `pid` and reaps it, and never waits without end: `patience` seconds for it to exit
    /// on its own (the caller has closed its pipes), then SIGTERM and as long again, then SIGKILL,
    /// which no process can ignore. Returns its `waitpid` status.
    @discardableResult
    public static func end(_ pid: pid_t, patience: Double = 1) -> Int32 {
        var status: Int32 = 0
        func exits(within seconds: Double) -> Bool {
            let deadline = POSIX.monotonicNow() + seconds
            while true {
                let result = waitpid(pid, &status, WNOHANG)
                if result == pid || (result < 0 && errno == ECHILD) { return true }
                if POSIX.monotonicNow() >= deadline { return false }
                usleep(10_000)
            }
        }
        if exits(within: patience) { return status }
        kill(pid, SIGTERM)
        if exits(within: patience) { return status }
        kill(pid, SIGKILL)
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    /// Describes a `waitpid` status: "exited with status N" or "killed by signal N".
    public static func describe(status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
        return "killed by signal \(signal)"
    }
}
