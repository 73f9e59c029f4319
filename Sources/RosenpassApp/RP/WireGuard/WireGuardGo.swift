// Userspace WireGuard for `rp` when the kernel has none: a wireguard-go child configured over its
// UAPI socket (`docs/components.md` §8.3, and the cross-platform UAPI of wireguard.com/xplatform).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassBroker
import RosenpassSystem
import Synchronization

/// A wireguard-go process that `rp` started for its interface, and owns.
///
/// It runs in the foreground (`-f`, and `WG_PROCESS_FOREGROUND=1`, which also silences its
/// "use the kernel module" banner), in a process group of its own so that a Ctrl-C reaches `rp`
/// only and `rp` decides the order of shutdown. Its output goes to `rp`'s stderr. A thread waits
/// for it; if it dies while `rp` runs, ``onUnexpectedExit`` is called.
final class WireGuardGoProcess: Sendable {
    /// The program: `$WG_QUICK_USERSPACE_IMPLEMENTATION` (as `wg-quick` honours it) or `wireguard-go`.
    static var executable: String {
        if let chosen = getenv("WG_QUICK_USERSPACE_IMPLEMENTATION").map({ String(cString: $0) }), !chosen.isEmpty {
            return chosen
        }
        return "wireguard-go"
    }

    /// The child's process id.
    let pid: pid_t
    /// The program that was started.
    let executable: String
    /// The interface it serves.
    let interface: String

    /// What the watcher thread and `rp`'s threads share.
    private struct State: Sendable {
        var exitStatus: Int32?
        var stopping = false
        var exitedUnexpectedly = false
        var unexpectedHandler: (@Sendable (String) -> Void)?
        var watcher: JoinableThread?
    }

    private let state = Mutex(State())

    /// Starts `executable -f interface`.
    ///
    /// - Throws: ``AppError`` when the program cannot be started (for example, it is not installed).
    init(executable: String = WireGuardGoProcess.executable, interface: String) throws(AppError) {
        self.executable = executable
        self.interface = interface
        let pid = try Self.spawn(executable: executable, arguments: ["-f", interface])
        self.pid = pid
        do {
            let watcher = try JoinableThread.start("wireguard-go watcher") { [self] in waitForExit() }
            state.withLock { $0.watcher = watcher }
        } catch {
            // Nobody would stop or reap it: do both now, before the error leaves.
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            throw .runtime("cannot watch \(executable) (stopped it again): \(error)")
        }
    }

    /// Makes way for a new wireguard-go at the UAPI socket `path` of `interface`: nothing there is
    /// fine; a socket nobody accepts on (`ECONNREFUSED`, left by a wireguard-go that was killed) is
    /// stale and removed.
    ///
    /// wireguard-go replaces a stale socket itself, but only after it has created its TUN device;
    /// until then the old socket would pass for the new one.
    ///
    /// - Throws: ``AppError`` when a process accepts on the socket (another userspace WireGuard
    ///   serves `interface`), when the path is not a socket, or when it cannot be checked or removed.
    static func clearStaleSocket(_ path: String, interface: String) throws(AppError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw .system("lstat", path, errno: errno)
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw .runtime("\(path), where wireguard-go puts the UAPI socket of \(interface), exists and is not a socket; remove it, or choose another name with dev")
        }
        switch probe(path) {
        case .accepted:
            throw .runtime(
                "a WireGuard interface \(interface) already exists: a userspace WireGuard (perhaps in another network namespace) serves its UAPI socket \(path); stop it, or choose another name with dev")
        case .refused:
            guard unlink(path) == 0 || errno == ENOENT else { throw .system("unlink (stale UAPI socket)", path, errno: errno) }
        case .absent:
            return
        case .failed(let error):
            throw .runtime("cannot check whether the UAPI socket \(path) is in use: \(error)")
        }
    }

    /// What a connection attempt to a unix socket found.
    enum SocketProbe {
        /// A process accepted the connection.
        case accepted
        /// A socket file nobody listens on (`ECONNREFUSED`): stale.
        case refused
        /// No such file (`ENOENT`).
        case absent
        /// Anything else.
        case failed(String)
    }

    /// Connects to the unix stream socket at `path` and closes the connection at once.
    static func probe(_ path: String) -> SocketProbe {
        do {
            close(try UnixSocket.connect(path: path))
            return .accepted
        } catch let error as SystemError where error.errno == ECONNREFUSED {
            return .refused
        } catch let error as SystemError where error.errno == ENOENT {
            return .absent
        } catch {
            return .failed("\(error)")
        }
    }

    /// Waits until wireguard-go accepts connections on its UAPI socket for the interface (a socket
    /// file alone is not enough: see ``clearStaleSocket(_:interface:)``).
    ///
    /// - Throws: ``AppError`` when wireguard-go exits first or `timeout` seconds pass.
    func waitForSocket(_ path: String, timeout: Double) throws(AppError) {
        var waited = 0.0
        var last = "no socket"
        while true {
            switch Self.probe(path) {
            case .accepted: return
            case .refused: last = "the socket refuses connections"
            case .absent: last = "no socket"
            case .failed(let error): last = error
            }
            if let status = state.withLock({ $0.exitStatus }) {
                throw .runtime("\(executable) \(ProcessSpawner.describe(status: status)) before it created \(interface) (its messages, if any, are above)")
            }
            guard waited < timeout else {
                throw .runtime("\(executable) (pid \(pid)) did not answer on its UAPI socket \(path) within \(Int(timeout)) s (\(last))")
            }
            usleep(20_000)
            waited += 0.02
        }
    }

    /// Called (on the watcher thread) with a description when wireguard-go exits before ``stop()``.
    var onUnexpectedExit: (@Sendable (String) -> Void)? {
        get { state.withLock { $0.unexpectedHandler } }
        set { state.withLock { $0.unexpectedHandler = newValue } }
    }

    /// How wireguard-go ended, if it exited before ``stop()`` was called.
    var unexpectedExit: String? {
        state.withLock { state in
            guard let exitStatus = state.exitStatus, state.exitedUnexpectedly else { return nil }
            return "\(executable) (pid \(pid)) \(ProcessSpawner.describe(status: exitStatus))"
        }
    }

    /// Stops wireguard-go: SIGTERM (it then removes its interface and socket), SIGKILL after 5 s.
    /// Waits until it is gone.
    func stop() {
        let running = state.withLock { state -> Bool in
            state.stopping = true
            return state.exitStatus == nil
        }
        if running {
            kill(pid, SIGTERM)
            var waited = 0.0
            while state.withLock({ $0.exitStatus == nil }) {
                if waited >= 5 {
                    kill(pid, SIGKILL)
                    break
                }
                usleep(10_000)
                waited += 0.01
            }
        }
        let watcher = state.withLock { state -> JoinableThread? in
            defer { state.watcher = nil }
            return state.watcher
        }
        watcher?.join()
    }

    private func waitForExit() {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return }
        }
        let handler = state.withLock { state -> (@Sendable (String) -> Void)? in
            state.exitStatus = status
            state.exitedUnexpectedly = !state.stopping
            return state.stopping ? nil : state.unexpectedHandler
        }
        handler?("\(executable) (pid \(pid)) \(ProcessSpawner.describe(status: status))")
    }

    /// posix_spawnp with stdin from /dev/null, stdout onto our stderr, a clean signal mask and
    /// default dispositions, and its own process group.
    private static func spawn(executable: String, arguments: [String]) throws(AppError) -> pid_t {
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard devNull >= 0 else { throw .system("open", "/dev/null", errno: errno) }
        defer { close(devNull) }
        var environment = [String]()
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if !text.hasPrefix("WG_PROCESS_FOREGROUND=") { environment.append(text) }
            cursor += 1
        }
        environment.append("WG_PROCESS_FOREGROUND=1")
        do {
            // stdin from /dev/null, stdout to our stderr; a process group of its own.
            return try ProcessSpawner.spawn(
                executable: executable, arguments: arguments, descriptors: [(devNull, STDIN_FILENO), (STDERR_FILENO, STDOUT_FILENO)],
                environment: environment, newProcessGroup: true)
        } catch {
            if (error as? SystemError)?.errno == ENOENT {
                throw .runtime(
                    "the kernel has no WireGuard, and \(executable) is not installed (or not in PATH): install wireguard-go, or load the wireguard kernel module")
            }
            throw .runtime("cannot start \(executable): \(error)")
        }
    }
}

/// Configuring a userspace WireGuard interface over its UAPI socket.
enum WireGuardUAPI {
    /// Sets the private key, the listen port and the complete peer list (replacing any peers).
    ///
    /// - Throws: ``AppError`` when the socket cannot be used or the implementation refuses.
    static func configure(socket path: String, name: String, _ settings: WireGuardInterfaceSettings) throws(AppError) {
        let request = setRequest(settings)
        let code: Int
        do {
            let backend = UserspaceWireGuardBackend(directory: FileIO.split(path).0)
            code = try request.withUnsafeBytes { try backend.exchange(path: path, request: $0) { _ in } }
        } catch {
            throw .runtime("configuring WireGuard on \(name) through \(path): \(error)")
        }
        guard code == 0 else {
            // wireguard-go answers a negative errno (errno=-98), other implementations a positive one.
            throw .runtime("configuring WireGuard on \(name): the UAPI set operation answered errno=\(code) (\(String(cString: strerror(Int32(clamping: code.magnitude)))))")
        }
    }

    /// The `set=1` operation: `private_key`, `listen_port` (if set), `replace_peers=true`, and per
    /// peer `public_key`, `preshared_key`, `endpoint`, `persistent_keepalive_interval`,
    /// `replace_allowed_ips=true` and one `allowed_ip` per prefix; keys in lower-case hex; ended by an
    /// empty line. The text is held in a buffer that is zeroed when released.
    static func setRequest(_ settings: WireGuardInterfaceSettings) -> WipedText {
        let capacity = 256 + settings.peers.reduce(0) { $0 + 400 + $1.allowedIPs.count * 64 }
        let text = WipedText(capacity: capacity)
        text.append("set=1\nprivate_key=")
        settings.privateKey.withUnsafeBytes { text.appendHex($0) }
        text.append("\n")
        if let port = settings.listenPort { text.append("listen_port=\(port)\n") }
        text.append("replace_peers=true\n")
        for peer in settings.peers {
            text.append("public_key=\(peer.publicKey.hex)\npreshared_key=")
            peer.presharedKey.withUnsafeBytes { text.appendHex($0) }
            text.append("\n")
            if let endpoint = peer.endpoint { text.append("endpoint=\(endpoint)\n") }
            if let keepalive = peer.persistentKeepalive { text.append("persistent_keepalive_interval=\(keepalive)\n") }
            text.append("replace_allowed_ips=true\n")
            for prefix in peer.allowedIPs { text.append("allowed_ip=\(prefix)\n") }
        }
        text.append("\n")
        return text
    }
}

/// A text buffer for requests that carry keys: fixed capacity, zeroed when released.
final class WipedText {
    private let storage: UnsafeMutableRawBufferPointer
    private(set) var count = 0

    init(capacity: Int) {
        storage = .allocate(byteCount: capacity, alignment: 8)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        wipe(storage)
        storage.deallocate()
    }

    /// Appends public text.
    func append(_ text: String) {
        for byte in text.utf8 { append(byte) }
    }

    /// Appends `bytes` as lower-case hex without copying them elsewhere.
    func appendHex(_ bytes: UnsafeRawBufferPointer) {
        let digits: StaticString = "0123456789abcdef"
        for byte in bytes {
            append(digits.utf8Start[Int(byte >> 4)])
            append(digits.utf8Start[Int(byte & 15)])
        }
    }

    private func append(_ byte: UInt8) {
        precondition(count < storage.count, "request buffer too small")
        storage[count] = byte
        count += 1
    }

    /// The text written so far.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }
}
