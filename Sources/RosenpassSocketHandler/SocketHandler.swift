// rosenpass-wireguard-broker-socket-handler: many clients, one privileged child, answers routed back.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import RosenpassBroker
import RosenpassSystem

/// Where the socket handler gets its clients (docs/components.md §2.2).
public enum SocketHandlerSource: Sendable {
    /// A listening unix socket the handler creates at `path` with permission bits `mode`
    /// (owner-only 0600 by default) and, if given, group `group`.
    case listenPath(String, mode: mode_t, group: gid_t?)
    /// An already listening unix socket inherited at this fd (for example from systemd).
    case listenDescriptor(Int32)
    /// One connected stream inherited at this fd; the handler exits when it closes.
    case streamDescriptor(Int32)
}

/// Serves the PSK broker protocol to any number of clients through one privileged child process.
///
/// * Per connection it is lock-step: it reads one request frame, waits for its answer and writes it
///   before it reads the next, so answers always reach the client that asked, in order.
/// * Requests from all clients queue for the one child and are handled one at a time.
/// * Frames are passed through unchanged; the child answers malformed ones with an error. A frame
///   longer than a request is answered with InternalError here and skipped; a length beyond 64 KiB
///   means the client is not speaking the protocol, so it is disconnected. No client can wedge another.
/// * When the child dies or stops answering (`childTimeout`), the request in flight is answered with
///   InternalError, and a new child is started with back-off (0.1 s doubling to 5 s). Requests that
///   arrive while no child runs are answered with InternalError at once (clients retry).
/// * Each accepted connection is logged with the peer's uid and pid (`SO_PEERCRED`), and so is every
///   SetPsk answered for it.
///
/// Hostile or broken clients cannot shut others out (see `docs/broker-limits.md`):
/// * what one client can make the handler hold is bounded: one request frame being read (at most
///   332 bytes) and one answer being written, as it is lock-step;
/// * a frame that has begun must be complete within `frameTimeout` (a client sending a byte a
///   second is disconnected), and a client that has sent no request `idleTimeout` after connecting
///   is disconnected;
/// * at `maximumClients`, a new connection takes the place of the longest-connected client that has
///   never sent a well-formed request, or else of the client whose last request is the oldest (never
///   one with a request in flight); only when every client has a request in flight is it refused;
/// * the lines about misbehaving clients are logged at most 10 per 10 s, then counted.
public final class SocketHandler {
    /// Options of the handler.
    public struct Configuration: Sendable {
        /// Where clients come from.
        public var source: SocketHandlerSource
        /// The child command and its arguments; the first element is looked up in `PATH` unless it
        /// contains a `/`.
        public var command: [String]
        /// Seconds the child may take for one request before it is restarted.
        public var childTimeout: Double = 15
        /// The most clients served at once; see the type's notes for who makes room for a newcomer.
        public var maximumClients = 256
        /// Seconds within which a client must send its first complete request after connecting.
        /// Honest clients (the daemon's broker client) send at once when they have a key and
        /// reconnect quietly when they are cut off while idle.
        public var idleTimeout: Double = 120
        /// Seconds within which a frame must be complete once its first byte arrived.
        public var frameTimeout: Double = 5
        /// The `--max-key-age` the child enforces, if any. With it, the handler remembers when each
        /// (interface, peer) last got a key and hands the remaining time to a restarted child
        /// (`--carry-over-timer`), so a crash cannot reset the fail-closed timers.
        public var maxKeyAge: Double?

        /// Creates a configuration.
        public init(source: SocketHandlerSource, command: [String]) {
            self.source = source
            self.command = command
        }
    }

    /// The I/O side of a connected client: its socket and the answer still to be written.
    private struct Connection {
        let fd: Int32
        var outbox = PendingOutput()
    }

    /// The running privileged child: its pid and our ends of its stdin and stdout.
    private struct ChildProcess {
        let pid: pid_t
        let stdin: Int32
        let stdout: Int32
    }

    private let configuration: Configuration
    private let logger: Logger
    private let state: SocketHandlerState
    private var listener: Int32 = -1
    private var createdSocketPath: String?
    private var connections: [Int: Connection] = [:]
    private var child: ChildProcess?
    private var singleStream = false
    private var opened = false
    private let stopPipe: (read: Int32, write: Int32)

    /// Creates the handler; nothing is opened until ``run()``.
    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        state = SocketHandlerState(configuration: configuration, logger: logger)
        stopPipe = try POSIX.socketPair(nonBlocking: true)
    }

    /// Asks a running ``run()`` to finish; safe from a signal handler's perspective only via ``stopDescriptor``.
    public func stop() {
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
    }

    /// The fd whose becoming writable-to ends the loop: a signal handler may `write(2)` one byte to it.
    public var stopDescriptor: Int32 { stopPipe.write }

    /// Opens the client source, starts the child and serves until stopped or, with a stream fd,
    /// until that stream closes. The socket file it created is removed on the way out.
    ///
    /// The loop is only I/O: it polls the listener, the clients and the child's output, tells
    /// ``SocketHandlerState`` what happened and carries out what it asks for.
    public func run() throws {
        try open()
        defer { shutdown() }
        while true {
            let now = POSIX.monotonicNow()
            state.tick(now: now)
            carryOutEffects()
            if singleStream && state.clientCount == 0 {
                logger.info("the stream closed; exiting")
                return
            }
            var fds: [pollfd] = [pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0)]
            if listener >= 0 {
                fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0))
            }
            var clientSlots: [(id: Int, slot: Int)] = []
            for (id, connection) in connections.sorted(by: { $0.key < $1.key }) {
                var events: Int16 = 0
                if state.readsFrom(id) { events |= Int16(POLLIN) }
                if connection.outbox.isPending { events |= Int16(POLLOUT) }
                clientSlots.append((id, fds.count))
                fds.append(pollfd(fd: connection.fd, events: events, revents: 0))
            }
            var childSlot: Int?
            if let child {
                childSlot = fds.count
                fds.append(pollfd(fd: child.stdout, events: Int16(POLLIN), revents: 0))
            }
            let timeout = Int32(max(0, (state.nextDeadline(now: now) - now) * 1000) + 1)
            let result = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }
            if result < 0 && errno != EINTR { throw BrokerError.system("poll", "socket handler", errno: errno) }
            if fds[0].revents != 0 {
                logger.info("stopping")
                return
            }
            let ready = POSIX.monotonicNow()
            if listener >= 0, fds[1].revents != 0 { acceptClients(now: ready) }
            for (id, slot) in clientSlots where fds[slot].revents != 0 {
                serviceClient(id, revents: fds[slot].revents, now: ready)
            }
            if let childSlot, let current = child, fds[childSlot].revents != 0 {
                state.childOutput(now: ready) { free in
                    try POSIX.readSome(current.stdout, into: free, context: "privileged broker stdout") ?? -1
                }
                carryOutEffects()
            }
            reapChild(now: ready)
        }
    }

    /// Creates or claims the client source (the socket, with its owner group and mode), once; ``run()``
    /// calls it if it was not called before. Call it first when the process drops privileges after
    /// start-up: giving the socket to a group may need them.
    public func open() throws {
        guard !opened else { return }
        try openSource()
        opened = true
    }

    // MARK: - Clients

    private func openSource() throws {
        switch configuration.source {
        case .listenPath(let path, let mode, let group):
            listener = try UnixSocket.listen(path: path, mode: mode, gid: group)
            createdSocketPath = path
            logger.info("listening on \(path) (mode \(String(mode, radix: 8))\(group.map { ", group \($0)" } ?? ""))")
        case .listenDescriptor(let fd):
            listener = try POSIX.claimInheritedUnixStreamSocket(fd, name: "--listen-fd \(fd)")
            logger.info("listening on inherited fd \(fd)")
        case .streamDescriptor(let fd):
            let owned = try POSIX.claimInheritedUnixStreamSocket(fd, name: "--stream-fd \(fd)")
            singleStream = true
            addClient(owned, label: { _ in "stream fd \(fd)" }, now: POSIX.monotonicNow())
        }
        if listener >= 0 { try POSIX.setNonBlocking(listener) }
    }

    private func acceptClients(now: Double) {
        let failure = POSIX.acceptWaitingConnections(listener) { fd in
            let credentials = POSIX.peerCredentials(fd)
            addClient(fd, label: { id in
                credentials.map { "client \(id) (uid \($0.uid), pid \($0.pid))" } ?? "client \(id)"
            }, now: now)
        }
        if let failure { logger.warning("accept failed: \(String(cString: strerror(failure)))") }
    }

    /// Registers a connection (non-blocking, close-on-exec) with the state, or closes it when refused.
    private func addClient(_ fd: Int32, label: (Int) -> String, now: Double) {
        do {
            try POSIX.setNonBlocking(fd)  // one blocking client would stall the single loop
        } catch {
            logger.error("a new connection: cannot make its socket non-blocking (\(error)); closing it")
            close(fd)
            return
        }
        guard let id = state.connected(now: now, label: label) else {
            close(fd)
            carryOutEffects()
            return
        }
        connections[id] = Connection(fd: fd)
        carryOutEffects()
    }

    private func serviceClient(_ id: Int, revents: Int16, now: Double) {
        guard let connection = connections[id] else { return }
        if connection.outbox.isPending {
            flush(id, now: now)
            guard connections[id] != nil else { return }
        }
        if !state.readsFrom(id) {
            // Not reading while its answer is pending; but a hang-up must not spin the loop.
            if revents & Int16(POLLHUP | POLLERR) != 0 { state.lost(id, reason: "hung up before its answer") }
        } else if revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
            let fd = connection.fd
            let context = "client \(id)"
            state.receive(from: id, now: now) { free in try POSIX.readSome(fd, into: free, context: context) ?? -1 }
        }
        carryOutEffects()
    }

    /// Writes what the socket takes of client `id`'s answer; tells the state once it is all out.
    private func flush(_ id: Int, now: Double) {
        guard var connection = connections[id] else { return }
        let sent = connection.outbox.send(to: connection.fd)
        let code = errno
        connections[id] = connection
        guard sent != nil else {
            state.lost(id, reason: "write failed: \(String(cString: strerror(code)))")
            carryOutEffects()
            return
        }
        if !connection.outbox.isPending { state.answerWritten(to: id, now: now) }
    }

    /// Carries out the state's effects in order (each may lead to more).
    private func carryOutEffects() {
        while let effect = state.takeEffect() {
            let now = POSIX.monotonicNow()
            switch effect {
            case .send(let id, let bytes):
                guard connections[id] != nil else { continue }
                connections[id]!.outbox.append(bytes)
                flush(id, now: now)
            case .disconnect(let id):
                if let connection = connections.removeValue(forKey: id) { close(connection.fd) }
            case .startChild(let extraArguments):
                startChild(extraArguments: extraArguments, now: now)
            case .writeToChild(let request):
                guard let child else {
                    state.childInputFailed("the privileged broker is not running", now: now)
                    continue
                }
                do {
                    try POSIX.writeAll(child.stdin, UnsafeRawBufferPointer(request.frame), context: "privileged broker stdin")
                } catch {
                    state.childInputFailed("\(error)", now: now)
                }
            case .killChild:
                killChild(now: now)
            }
        }
    }

    // MARK: - Child

    private func startChild(extraArguments: [String], now: Double) {
        guard child == nil else { return }
        // Socket pairs rather than pipes: created close-on-exec atomically. The child only reads and writes.
        let input: (Int32, Int32)
        let output: (Int32, Int32)
        do {
            input = try POSIX.socketPair()
            do { output = try POSIX.socketPair() } catch {
                close(input.0); close(input.1)
                throw error
            }
        } catch {
            state.childDidNotStart("\(error)", now: now)
            return
        }
        defer {
            close(input.0)
            close(output.1)
        }
        // Our end of the child's stdin only writes, of its stdout only reads.
        Glibc.shutdown(input.1, Int32(SHUT_RD))
        Glibc.shutdown(output.0, Int32(SHUT_WR))
        do {
            // Our ends only (a socket pair's two ends are separate files): the child's stay blocking.
            try POSIX.setNonBlocking(output.0)
            try POSIX.setNonBlocking(input.1)
            let pid = try ProcessSpawner.spawn(executable: configuration.command[0],
                                               arguments: Array(configuration.command.dropFirst()) + extraArguments,
                                               descriptors: [(input.0, 0), (output.1, 1)])
            child = ChildProcess(pid: pid, stdin: input.1, stdout: output.0)
            state.childStarted(pid: pid, now: now)
        } catch {
            close(input.1)
            close(output.0)
            state.childDidNotStart("\(error)", now: now)
        }
    }

    /// Kills the child and reaps it (SIGKILL cannot be ignored, so the wait is short).
    private func killChild(now: Double) {
        guard let current = child else { return }
        close(current.stdin)
        close(current.stdout)
        kill(current.pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(current.pid, &status, 0) < 0 && errno == EINTR {}
        child = nil
        state.childEnded(pid: current.pid, how: ProcessSpawner.describe(status: status), now: now)
    }

    /// Notices a child that exited on its own.
    private func reapChild(now: Double) {
        guard let current = child else { return }
        var status: Int32 = 0
        guard waitpid(current.pid, &status, WNOHANG) == current.pid else { return }
        close(current.stdin)
        close(current.stdout)
        child = nil
        state.childEnded(pid: current.pid, how: ProcessSpawner.describe(status: status), now: now)
        carryOutEffects()
    }

    private func shutdown() {
        state.disconnectAll()
        while let effect = state.takeEffect() {
            if case .disconnect(let id) = effect, let connection = connections.removeValue(forKey: id) { close(connection.fd) }
        }
        for connection in connections.values { close(connection.fd) }
        connections.removeAll()
        if listener >= 0 { close(listener) }
        if let path = createdSocketPath { unlink(path) }
        if let current = child {
            close(current.stdin)  // the child sees EOF and exits
            close(current.stdout)
            _ = ProcessSpawner.end(current.pid)
            child = nil
        }
    }
}
