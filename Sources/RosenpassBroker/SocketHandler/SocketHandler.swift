// rosenpass-wireguard-broker-socket-handler: many clients, one privileged child, answers routed back.

#if canImport(Glibc)
import Glibc
#endif
import Logging
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

    private final class Client {
        let id: Int
        let fd: Int32
        var decoder = FrameDecoder(maximumPayload: BrokerWire.requestSize)
        var outbox: [UInt8] = []
        var awaitingAnswer = false
        let label: String
        let connectedAt: Double
        /// Well-formed SetPsk requests taken from this client (whether the broker grants them or not):
        /// a client that only sent junk has not shown it speaks the protocol.
        var requests = 0
        /// When it last sent a well-formed request (or connected, before the first).
        var lastRequestAt: Double
        /// When the first byte of the frame being read arrived, while one is incomplete.
        var partialSince: Double?

        init(id: Int, fd: Int32, label: String, connectedAt: Double) {
            self.id = id
            self.fd = fd
            self.label = label
            self.connectedAt = connectedAt
            self.lastRequestAt = connectedAt
        }
    }

    /// One request waiting for the child; the bytes are wiped when it is released.
    private final class PendingRequest {
        let clientID: Int
        let frame: UnsafeMutableRawBufferPointer
        /// The request's (public) interface and peer, when it is a well-formed SetPsk request.
        let pair: PeerOnInterface?

        init(clientID: Int, payload: UnsafeRawBufferPointer) {
            self.clientID = clientID
            pair = SetPskRequest.target(ofPayload: payload)
            frame = .allocate(byteCount: BrokerWire.lengthPrefixSize + payload.count, alignment: 8)
            let prefix = LengthPrefixedFrames.lengthPrefix(payload.count)
            prefix.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: frame[0..<8]).copyMemory(from: $0) }
            UnsafeMutableRawBufferPointer(rebasing: frame[8...]).copyMemory(from: payload)
        }

        deinit {
            wipe(frame)
            frame.deallocate()
        }
    }

    private final class Child {
        var pid: pid_t
        var stdin: Int32
        var stdout: Int32
        var decoder = FrameDecoder(maximumPayload: BrokerWire.responseSize)
        var startedAt: Double

        init(pid: pid_t, stdin: Int32, stdout: Int32, startedAt: Double) {
            self.pid = pid
            self.stdin = stdin
            self.stdout = stdout
            self.startedAt = startedAt
        }
    }

    private let configuration: Configuration
    private var logger: Logger
    private var listener: Int32 = -1
    private var createdSocketPath: String?
    private var clients: [Int: Client] = [:]
    private var nextClientID = 0
    private var queue: [PendingRequest] = []
    private var inFlight: (request: PendingRequest, since: Double)?
    private var child: Child?
    private var childRestartAt: Double = 0
    private var childBackoff: Double = 0.1
    private var singleStream = false
    /// When each pair last got a key through us (monotonic seconds); only with `maxKeyAge`.
    private var lastInstalled: [PeerOnInterface: Double] = [:]
    private let stopPipe: (read: Int32, write: Int32)
    /// Lines about clients that misbehave or do not fit: at most 10 per 10 s, then a count.
    private var clientProblems = LogBudget()

    /// Creates the handler; nothing is opened until ``run()``.
    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
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
    public func run() throws {
        try openSource()
        defer { shutdown() }
        startChild()
        while true {
            var fds: [pollfd] = [pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0)]
            if listener >= 0 {
                fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0))
            }
            let clientOrder = clients.keys.sorted()
            var clientSlots: [(Int, Int)] = []
            for id in clientOrder {
                let client = clients[id]!
                var events: Int16 = 0
                if !client.awaitingAnswer { events |= Int16(POLLIN) }
                if !client.outbox.isEmpty { events |= Int16(POLLOUT) }
                clientSlots.append((id, fds.count))
                fds.append(pollfd(fd: client.fd, events: events, revents: 0))
            }
            var childSlot: Int?
            if let child {
                childSlot = fds.count
                fds.append(pollfd(fd: child.stdout, events: Int16(POLLIN), revents: 0))
            }
            let result = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), pollTimeout()) }
            if result < 0 && errno != EINTR { throw BrokerError.system("poll", "socket handler", errno: errno) }
            let now = POSIX.monotonicNow()

            if fds[0].revents != 0 {
                logger.info("stopping")
                return
            }
            if listener >= 0, let slot = fds.firstIndex(where: { $0.fd == listener }), fds[slot].revents != 0 {
                acceptClients()
            }
            for (id, slot) in clientSlots where fds[slot].revents != 0 {
                serviceClient(id, revents: fds[slot].revents)
            }
            if let childSlot, fds[childSlot].revents != 0 {
                serviceChildOutput()
            }
            enforceClientDeadlines(now: now)
            if let summary = clientProblems.summary(now: now, describing: "lines about clients") { logger.warning("\(summary)") }
            reapChild()
            if let inFlight, now - inFlight.since > configuration.childTimeout {
                logger.error("the privileged broker did not answer within \(formatSeconds(configuration.childTimeout)); restarting it")
                killChild()
            }
            if child == nil && now >= childRestartAt { startChild() }
            dispatch()
            if singleStream && clients.isEmpty {
                logger.info("the stream closed; exiting")
                return
            }
        }
    }

    // MARK: - Clients

    private func openSource() throws {
        switch configuration.source {
        case .listenPath(let path, let mode, let group):
            listener = try UnixSocket.listen(path: path, mode: mode, gid: group)
            createdSocketPath = path
            logger.info("listening on \(path) (mode \(String(mode, radix: 8))\(group.map { ", group \($0)" } ?? ""))")
        case .listenDescriptor(let fd):
            let owned = try POSIX.claimInheritedDescriptor(fd)
            guard POSIX.isUnixStreamSocket(owned) else {
                close(owned)
                throw BrokerError.invalidArgument("--listen-fd \(fd) is not a unix stream socket")
            }
            listener = owned
            logger.info("listening on inherited fd \(fd)")
        case .streamDescriptor(let fd):
            let owned = try POSIX.claimInheritedDescriptor(fd)
            guard POSIX.isUnixStreamSocket(owned) else {
                close(owned)
                throw BrokerError.invalidArgument("--stream-fd \(fd) is not a unix stream socket")
            }
            singleStream = true
            addClient(owned, label: "stream fd \(fd)")
        }
        if listener >= 0 { try POSIX.setNonBlocking(listener) }
    }

    private func acceptClients() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }  // single-threaded: no spawn can race this
            if fd < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { logger.warning("accept failed: \(String(cString: strerror(errno)))") }
                return
            }
            if clients.count >= configuration.maximumClients && !makeRoom() {
                problem("refusing a connection: already serving \(clients.count) clients, each with a request in flight")
                close(fd)
                continue
            }
            let label: String
            if let credentials = POSIX.peerCredentials(fd) {
                label = "client \(nextClientID) (uid \(credentials.uid), pid \(credentials.pid))"
            } else {
                label = "client \(nextClientID)"
            }
            addClient(fd, label: label)
        }
    }

    private func addClient(_ fd: Int32, label: String) {
        do {
            try POSIX.setNonBlocking(fd)  // one blocking client would stall the single loop
        } catch {
            logger.error("\(label): cannot make its socket non-blocking (\(error)); closing it")
            close(fd)
            return
        }
        let client = Client(id: nextClientID, fd: fd, label: label, connectedAt: POSIX.monotonicNow())
        nextClientID += 1
        clients[client.id] = client
        logger.info("\(label) connected")
    }

    private func dropClient(_ id: Int, reason: String) {
        guard let client = clients.removeValue(forKey: id) else { return }
        close(client.fd)
        logger.info("\(client.label) disconnected: \(reason)")
    }

    /// Logs a line about a misbehaving client within the budget.
    private func problem(_ line: @autoclosure () -> String) {
        if let line = clientProblems.admit(line(), now: POSIX.monotonicNow()) { logger.warning("\(line)") }
    }

    /// At capacity: disconnects the longest-connected client that has never sent a well-formed
    /// request, or else the one whose last request is oldest; never one with a request in flight.
    /// (An honest client that is displaced while idle reconnects and is served at once.)
    private func makeRoom() -> Bool {
        let idle = clients.values.filter { !$0.awaitingAnswer && $0.outbox.isEmpty }
        let silent = idle.filter { $0.requests == 0 }
        let chosen = silent.isEmpty
            ? idle.min(by: { ($0.lastRequestAt, $0.id) < ($1.lastRequestAt, $1.id) })
            : silent.min(by: { ($0.connectedAt, $0.id) < ($1.connectedAt, $1.id) })
        guard let chosen else { return false }
        let why = chosen.requests == 0 ? "it has sent no request" : "its last request is the oldest"
        problem("\(chosen.label) disconnected to make room for a new connection: \(clients.count) clients, and \(why)")
        dropClient(chosen.id, reason: "made room for a new connection")
        return true
    }

    /// Disconnects the clients that let a frame hang for `frameTimeout`, or sent no request within
    /// `idleTimeout` of connecting. A client waiting for its answer is never timed out here.
    private func enforceClientDeadlines(now: Double) {
        for client in clients.values.sorted(by: { $0.id < $1.id }) where !client.awaitingAnswer && client.outbox.isEmpty {
            if let since = client.partialSince, now - since > configuration.frameTimeout {
                problem("\(client.label) sent \(client.decoder.bufferedByteCount) bytes of a frame and not the rest within \(formatSeconds(configuration.frameTimeout)); disconnecting")
                dropClient(client.id, reason: "incomplete frame")
            } else if client.requests == 0, client.partialSince == nil, now - client.connectedAt > configuration.idleTimeout {
                dropClient(client.id, reason: "no request within \(formatSeconds(configuration.idleTimeout)) of connecting")
            }
        }
    }

    private func serviceClient(_ id: Int, revents: Int16) {
        guard let client = clients[id] else { return }
        if revents & Int16(POLLOUT) != 0 || !client.outbox.isEmpty {
            flush(client)
            guard clients[id] != nil else { return }
        }
        if client.awaitingAnswer {
            // Not reading while its answer is pending; but a hang-up must not spin the loop.
            if revents & Int16(POLLHUP | POLLERR) != 0 { dropClient(id, reason: "hung up before its answer") }
            return
        }
        guard revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { return }
        let got: Int?
        do {
            got = try client.decoder.readInto { free in try POSIX.readSome(client.fd, into: free, context: client.label) ?? -1 }
        } catch {
            dropClient(id, reason: "\(error)")
            return
        }
        if got == 0 {
            dropClient(id, reason: client.decoder.bufferedByteCount > 0 ? "closed in the middle of a frame" : "closed")
            return
        }
        if client.partialSince == nil { client.partialSince = POSIX.monotonicNow() }
        takeRequest(from: client)
    }

    /// Takes at most one request from `client` (lock-step); more frames stay buffered.
    private func takeRequest(from client: Client) {
        guard !client.awaitingAnswer else { return }
        do {
            let frame = try client.decoder.nextFrame { payload in PendingRequest(clientID: client.id, payload: payload) }
            switch frame {
            case nil:
                return
            case .payload(let request):
                if request.pair != nil {
                    client.requests += 1
                    client.lastRequestAt = POSIX.monotonicNow()
                }
                client.partialSince = client.decoder.bufferedByteCount > 0 ? POSIX.monotonicNow() : nil
                client.awaitingAnswer = true
                queue.append(request)
            case .oversized(let length):
                client.partialSince = client.decoder.bufferedByteCount > 0 ? POSIX.monotonicNow() : nil
                problem("\(client.label) sent a \(length)-byte frame (requests are \(BrokerWire.requestSize)); answering InternalError")
                client.outbox += SetPskResponse(.internalError).encodedFrame
                flush(client)
            }
        } catch {
            problem("\(client.label) is not speaking the broker protocol (\(error)); disconnecting")
            dropClient(client.id, reason: "protocol error")
        }
    }

    private func flush(_ client: Client) {
        while !client.outbox.isEmpty {
            let written = client.outbox.withUnsafeBytes { send(client.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                dropClient(client.id, reason: "write failed: \(String(cString: strerror(errno)))")
                return
            }
            client.outbox.removeFirst(written)
        }
        // The answer is out: the next buffered request, if any, may go.
        if clients[client.id] != nil { takeRequest(from: client) }
    }

    // MARK: - Child

    private func startChild() {
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
            scheduleRestart(reason: "\(error)")
            return
        }
        defer {
            close(input.0)
            close(output.1)
        }
        shutdownUnusedDirections(input: input.1, output: output.0)
        do {
            // Our ends only (a socket pair's two ends are separate files): the child's stay blocking.
            try POSIX.setNonBlocking(output.0)
            try POSIX.setNonBlocking(input.1)
            let pid = try ProcessSpawner.spawn(executable: configuration.command[0],
                                               arguments: Array(configuration.command.dropFirst()) + carriedOverTimerArguments(),
                                               descriptors: [(input.0, 0), (output.1, 1)])
            child = Child(pid: pid, stdin: input.1, stdout: output.0, startedAt: POSIX.monotonicNow())
            logger.info("started the privileged broker \(configuration.command.joined(separator: " ")) as pid \(pid)")
        } catch {
            close(input.1)
            close(output.0)
            scheduleRestart(reason: "\(error)")
        }
    }

    /// Our end of the child's stdin only writes, of its stdout only reads.
    private func shutdownUnusedDirections(input: Int32, output: Int32) {
        Glibc.shutdown(input, Int32(SHUT_RD))
        Glibc.shutdown(output, Int32(SHUT_WR))
    }

    /// `--carry-over-timer` arguments for the pairs whose keys came through us; pairs whose time is up
    /// are passed once more (with 0 s) and then forgotten.
    private func carriedOverTimerArguments() -> [String] {
        guard let maxKeyAge = configuration.maxKeyAge, !lastInstalled.isEmpty else { return [] }
        let now = POSIX.monotonicNow()
        var arguments: [String] = []
        for (pair, installed) in lastInstalled.sorted(by: { $0.value < $1.value }) {
            let remaining = installed + maxKeyAge - now
            arguments += ["--carry-over-timer", CarriedOverKeyTimer(pair: pair, remainingSeconds: remaining).argument]
            if remaining <= 0 { lastInstalled[pair] = nil }
        }
        return arguments
    }

    private func scheduleRestart(reason: String) {
        logger.error("cannot run the privileged broker: \(reason); retrying in \(childBackoff) s")
        childRestartAt = POSIX.monotonicNow() + childBackoff
        childBackoff = min(childBackoff * 2, 5)
    }

    private func dispatch() {
        guard inFlight == nil, !queue.isEmpty else { return }
        guard let child else {
            // No broker process right now (it cannot be started, or is being restarted): answer
            // rather than hold clients; they retry.
            logger.warning("no privileged broker is running; answering \(queue.count) request(s) with InternalError")
            // Take the queue first: delivering lets a client's next buffered request join the queue.
            let waiting = queue
            queue.removeAll()
            for request in waiting { deliver(SetPskResponse(.internalError).encodedFrame, to: request.clientID) }
            return
        }
        let request = queue.removeFirst()
        do {
            try POSIX.writeAll(child.stdin, UnsafeRawBufferPointer(request.frame), context: "privileged broker stdin")
            inFlight = (request, POSIX.monotonicNow())
        } catch {
            logger.error("writing to the privileged broker failed: \(error)")
            inFlight = (request, POSIX.monotonicNow())
            killChild()
        }
    }

    private func answerInFlight(_ response: [UInt8]) {
        guard let (request, _) = inFlight else { return }
        inFlight = nil
        if let pair = request.pair, let client = clients[request.clientID] {
            // Who set which key: the audit line the privileged broker cannot write (it sees no clients).
            let code = (try? SetPskResponse(decodingPayload: response.dropFirst(BrokerWire.lengthPrefixSize)))?.returnCode
            logger.notice("\(client.label): SetPsk for peer \(pair.peer) on interface \(pair.interface): \(code.map { "\($0)" } ?? "no answer")")
        }
        deliver(response, to: request.clientID)
    }

    private func deliver(_ response: [UInt8], to clientID: Int) {
        guard let client = clients[clientID] else { return }
        client.awaitingAnswer = false
        client.outbox += response
        flush(client)
    }

    private func serviceChildOutput() {
        guard let current = child else { return }
        let got: Int
        do {
            got = try current.decoder.readInto { free in try POSIX.readSome(current.stdout, into: free, context: "privileged broker stdout") ?? -1 }
        } catch {
            logger.error("\(error)")
            killChild()
            return
        }
        if got == 0 {
            logger.error("the privileged broker closed its output")
            killChild()
            return
        }
        while let current = child {
            let frame: DecodedFrame<[UInt8]>?
            do {
                frame = try current.decoder.nextFrame { Array($0) }
            } catch {
                logger.error("the privileged broker sent garbage (\(error)); restarting it")
                killChild()
                return
            }
            guard let frame else { return }
            switch frame {
            case .payload(let payload):
                guard inFlight != nil, let response = try? SetPskResponse(decodingPayload: payload) else {
                    logger.error("the privileged broker sent an unexpected or malformed response; restarting it")
                    killChild()
                    return
                }
                childBackoff = 0.1
                if configuration.maxKeyAge != nil, response.returnCode == .success,
                   let pair = inFlight?.request.pair {
                    lastInstalled[pair] = POSIX.monotonicNow()
                }
                answerInFlight(LengthPrefixedFrames.encode(payload))
                dispatch()
            case .oversized:
                logger.error("the privileged broker sent an oversized response; restarting it")
                killChild()
                return
            }
        }
    }

    /// Ends the current child (if any), answers the request in flight with InternalError and
    /// schedules a new child.
    private func killChild() {
        guard let current = child else { return }
        close(current.stdin)
        close(current.stdout)
        kill(current.pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(current.pid, &status, 0) < 0 && errno == EINTR {}
        logger.error("the privileged broker (pid \(current.pid)) \(ProcessSpawner.describe(status: status))")
        child = nil
        answerInFlight(SetPskResponse(.internalError).encodedFrame)
        scheduleRestart(reason: "it stopped")
    }

    /// Notices a child that exited on its own.
    private func reapChild() {
        guard let current = child else { return }
        var status: Int32 = 0
        let result = waitpid(current.pid, &status, WNOHANG)
        guard result == current.pid else { return }
        close(current.stdin)
        close(current.stdout)
        logger.error("the privileged broker (pid \(current.pid)) \(ProcessSpawner.describe(status: status))")
        child = nil
        answerInFlight(SetPskResponse(.internalError).encodedFrame)
        scheduleRestart(reason: "it exited")
    }

    private func pollTimeout() -> Int32 {
        let now = POSIX.monotonicNow()
        var wake = now + 1
        if child == nil { wake = min(wake, childRestartAt) }
        if let inFlight { wake = min(wake, inFlight.since + configuration.childTimeout) }
        for client in clients.values where !client.awaitingAnswer {
            if let since = client.partialSince { wake = min(wake, since + configuration.frameTimeout) }
            if client.requests == 0 { wake = min(wake, client.connectedAt + configuration.idleTimeout) }
        }
        return Int32(max(0, (wake - now) * 1000) + 1)
    }

    private func shutdown() {
        for id in Array(clients.keys) { dropClient(id, reason: "handler stopping") }
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
