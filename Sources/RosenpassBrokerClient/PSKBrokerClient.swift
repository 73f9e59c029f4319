// The daemon's side of the PSK broker: delivers each peer's current key, survives broker restarts.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import RosenpassBroker
import Synchronization
import RosenpassSystem

/// Where a ``PSKBrokerClient`` finds its broker (docs/components.md §2.3).
public enum PSKBrokerEndpoint: Sendable, CustomStringConvertible {
    /// A socket handler listening at this path (`--psk-broker PATH`, `psk_broker = "PATH"`,
    /// `--psk-broker-path`). Reconnected with back-off whenever it goes away.
    case socketPath(String)
    /// An inherited connected unix stream socket (`--psk-broker-fd`). Cannot be reconnected: once it
    /// closes, keys stay pending and the client reports ``PSKBrokerClientEvent/unrecoverable(reason:)``.
    case inheritedDescriptor(Int32)
    /// Spawn `executable --stream-fd 3 arguments…` with one end of a socket pair at fd 3
    /// (`--psk-broker-spawn`, the reference's spawn mode). A dead child is replaced by a new one with
    /// back-off.
    /// - Parameters:
    ///   - executable: a path, or a name looked up in `PATH` (normally `rosenpass-wireguard-broker-socket-handler`).
    ///   - arguments: appended after `--stream-fd 3`, e.g. `["--", "/usr/bin/rosenpass-wireguard-broker-privileged"]`.
    case spawn(executable: String, arguments: [String])
    /// Spawn the privileged broker `executable arguments…` itself and talk to it over its standard
    /// input and output (two pipes), as the socket handler does. The daemon's default: no unix socket
    /// anywhere, so it also runs under the reference's systemd unit, which allows no `AF_UNIX`
    /// (docs/components.md §2.4). A dead child is replaced by a new one with back-off.
    /// - Parameters:
    ///   - executable: a path, or a name looked up in `PATH` (normally `rosenpass-wireguard-broker-privileged`).
    ///   - arguments: its arguments, e.g. `["--allow-interface", "wg0"]`.
    case spawnBroker(executable: String, arguments: [String])
    /// A broker served in this process (`rp`), reached over two pipes: requests are written to
    /// `requests`, answers read from `responses`. The client works on duplicates of the two fds and
    /// closes only those; the caller keeps and closes the originals. Cannot be reconnected.
    case inProcessPipes(requests: Int32, responses: Int32)

    /// The reference's spawn mode: `rosenpass-wireguard-broker-socket-handler --stream-fd 3` from `PATH`.
    public static let defaultSpawn = PSKBrokerEndpoint.spawn(executable: "rosenpass-wireguard-broker-socket-handler", arguments: [])

    public var description: String {
        switch self {
        case .socketPath(let path): return "broker socket \(path)"
        case .inheritedDescriptor(let fd): return "broker fd \(fd)"
        case .spawn(let executable, _), .spawnBroker(let executable, _): return "spawned \(executable)"
        case .inProcessPipes: return "in-process broker"
        }
    }
}

/// Where one peer's key stands.
public enum PSKDeliveryState: Sendable, Equatable {
    /// Waiting to be sent (not connected yet, or queued behind another request).
    case pending
    /// Sent; the answer has not arrived.
    case sent
    /// The broker answered Success for the current key.
    case delivered
    /// The broker refused or failed (the code says how); the client tries again later.
    case failed(BrokerReturnCode)
}

/// What a ``PSKBrokerClient`` reports through its event handler (called on the client's thread;
/// keep it short and never block in it).
public enum PSKBrokerClientEvent: Sendable, Equatable {
    /// A connection to the broker is up; every peer's current key will be (re)sent.
    case connected
    /// The connection went away; the client reconnects with back-off.
    case disconnected(reason: String)
    /// The broker installed the current key of `peer` on `interface`.
    case delivered(interface: String, peer: WireGuardPublicKey)
    /// The broker answered `code` for `peer` on `interface`; the key is retried later.
    case failed(interface: String, peer: WireGuardPublicKey, code: BrokerReturnCode)
    /// The broker cannot be reached again (an inherited fd or in-process pipe closed). Keys stay pending.
    case unrecoverable(reason: String)
}

/// The PSK broker client the `rosenpass` daemon uses: thread-safe, never blocks its caller.
///
/// The daemon calls ``setPresharedKey(_:peer:interface:)`` whenever a key is exchanged or erased; the
/// call only records the key as the peer's *current* key and wakes the client's own thread, which
/// owns the connection. That thread:
///
/// * connects (or spawns the broker) and, after every (re)connect, re-sends **every** peer's
///   current key, so a key set while the broker was away, or lost with a restarted broker, reaches
///   WireGuard as soon as the broker is back;
/// * sends one request at a time and reads **every** response exactly once, matching them in order
///   (the reference client returned its first response forever, docs/components.md §1.5);
/// * retries a key the broker answered with an error after a back-off (1 s doubling to 60 s), until it
///   is delivered or replaced by a newer key; only the newest key of a peer is ever sent;
/// * on a broken connection, a response timeout or a malformed response, closes the connection and
///   reconnects with back-off (`initialBackoff` doubling to `maximumBackoff`; it starts over once the
///   broker has answered, so a link that accepts connections and drops them is not retried in a
///   tight loop).
///
/// The decisions are ``PSKDeliveryQueue``'s, a value without I/O that the thread feeds with events
/// and the time; this class is the I/O around it (`poll`, the endpoint's fds, a spawned process).
/// Keys are held as ``PresharedKey`` (zeroed when replaced or released) and frames are built in
/// buffers that are zeroed after sending. Nothing here logs a key.
///
/// ```swift
/// let client = PSKBrokerClient(endpoint: .socketPath("/run/rosenpass/broker.sock"), logger: logger)
/// try client.start()
/// try client.setPresharedKey(psk, peer: wgPeer, interface: "wg0")   // returns at once
/// client.shutdown()                                                  // at exit
/// ```
public final class PSKBrokerClient: Sendable {
    /// Tunables of the client.
    public struct Options: Sendable {
        /// First reconnect delay in seconds.
        public var initialBackoff: Double = 0.1
        /// Longest reconnect delay in seconds.
        public var maximumBackoff: Double = 5
        /// First retry delay after an error answer.
        public var initialRetryDelay: Double = 1
        /// Longest retry delay after error answers.
        public var maximumRetryDelay: Double = 60
        /// Seconds to wait for an answer before the connection counts as broken.
        public var responseTimeout: Double = 30
        /// A connection on which no request was sent, closed by the broker after it was open this
        /// long (seconds), is reconnected at once and logged at info: the socket handler closes
        /// connections that sent no request for a while. Any other close counts as a lost broker
        /// (reported, and retried with back-off: a forwarded socket whose far end is missing
        /// accepts and closes at once).
        public var idleConnectionAge: Double = 30

        /// The defaults.
        public init() {}
    }

    /// What the caller's threads and the client's thread share.
    private struct Shared: Sendable {
        var queue: PSKDeliveryQueue
        var stopping = false
        var thread: JoinableThread?
        /// For `.spawnBroker`: the arguments set by ``setBrokerArguments(_:)``, if any.
        var brokerArguments: [String]?
    }

    /// The broker this client talks to.
    public let endpoint: PSKBrokerEndpoint
    private let options: Options
    private let logger: Logger
    private let eventHandler: (@Sendable (PSKBrokerClientEvent) -> Void)?
    private let shared: Mutex<Shared>
    /// A pipe whose read end the thread polls: a byte written wakes it (new key, shutdown).
    private let wake: (read: Int32, write: Int32)

    /// Creates a client. Nothing happens until ``start()``.
    /// - Parameters:
    ///   - endpoint: where the broker is.
    ///   - options: timing.
    ///   - logger: for connection changes and broker errors (never keys).
    ///   - eventHandler: optional observer, called on the client's thread.
    public init(endpoint: PSKBrokerEndpoint, options: Options = Options(), logger: Logger,
                eventHandler: (@Sendable (PSKBrokerClientEvent) -> Void)? = nil) throws {
        self.endpoint = endpoint
        self.options = options
        self.logger = logger
        self.eventHandler = eventHandler
        let reconnectable: Bool
        switch endpoint {
        case .socketPath, .spawn, .spawnBroker: reconnectable = true
        case .inheritedDescriptor, .inProcessPipes: reconnectable = false
        }
        var idleCloseIsRoutine = false
        if case .socketPath = endpoint { idleCloseIsRoutine = true }
        shared = Mutex(Shared(queue: PSKDeliveryQueue(options: options, reconnectable: reconnectable,
                                                      idleCloseIsRoutine: idleCloseIsRoutine)))
        wake = try POSIX.pipe(nonBlocking: true)  // a pipe, not a socket pair: no AF_UNIX needed
    }

    deinit {
        close(wake.read)
        close(wake.write)
    }

    /// Starts the client's thread. Call once.
    /// - Throws: ``SystemError`` when the thread cannot be created.
    public func start() throws {
        let thread = try JoinableThread.start("PSK broker client thread") { [self] in
            var connection = BrokerConnection(client: self)
            connection.run()
        }
        shared.withLock { $0.thread = thread }
    }

    /// Makes `presharedKey` the current key of `peer` on `interface` and schedules its delivery.
    /// Returns at once; an older key of the same peer that was not sent yet is dropped.
    /// - Throws: ``BrokerError/invalidArgument(_:)`` when the name does not fit the protocol (over 255 bytes).
    public func setPresharedKey(_ presharedKey: PresharedKey, peer: WireGuardPublicKey, interface: String) throws {
        guard interface.utf8.count <= BrokerWire.interfaceNameCapacity else {
            throw BrokerError.invalidArgument("interface name of \(interface.utf8.count) bytes is longer than the broker protocol's 255")
        }
        let pair = PeerOnInterface(interface: interface, peer: peer)
        shared.withLock { $0.queue.setKey(presharedKey, for: pair) }
        poke()
    }

    /// For a ``PSKBrokerEndpoint/spawnBroker(executable:arguments:)`` endpoint: the arguments to
    /// start the broker with from now on, in place of the endpoint's (the daemon passes the
    /// allow-list of its peers). A running broker is replaced by one with these arguments, and every
    /// peer's current key is sent again; the same arguments again change nothing. Other endpoints
    /// ignore them.
    public func setBrokerArguments(_ arguments: [String]) {
        let changed = shared.withLock { shared -> Bool in
            defer { shared.brokerArguments = arguments }
            return shared.brokerArguments != arguments
        }
        if changed { poke() }
    }

    /// Where the current key of `peer` on `interface` stands, or `nil` if none was set.
    public func state(peer: WireGuardPublicKey, interface: String) -> PSKDeliveryState? {
        shared.withLock { $0.queue.state(of: PeerOnInterface(interface: interface, peer: peer)) }
    }

    /// Stops the thread, closes the connection and, in the spawn modes, waits for the spawned process to
    /// exit (it sees end-of-file; after 2 s it gets SIGTERM). Pending keys are not delivered.
    public func shutdown() {
        let running = shared.withLock { shared -> JoinableThread? in
            shared.stopping = true
            defer { shared.thread = nil }
            return shared.thread
        }
        poke()
        running?.join()
    }

    private func poke() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)  // a full pipe already holds a wake-up
    }

    // MARK: - The client thread

    /// The I/O of the client's thread: the connection's fds, the spawned process, the frame decoder.
    /// It lives on that thread only; every decision is the queue's.
    private struct BrokerConnection: ~Copyable {
        let client: PSKBrokerClient
        /// Read (and polled); `outgoing` is written: the same socket, or two pipes for a broker
        /// spawned over its stdin and stdout.
        var connection: Int32 = -1
        var outgoing: Int32 = -1
        var childPID: pid_t = 0
        /// The arguments the running spawned broker was started with.
        var spawnedArguments: [String]?
        var decoder = FrameDecoder(maximumPayload: BrokerWire.responseSize, discardLimit: UInt64(BrokerWire.responseSize))

        init(client: PSKBrokerClient) {
            self.client = client
        }

        var endpoint: PSKBrokerEndpoint { client.endpoint }
        var logger: Logger { client.logger }

        func withQueue<R>(_ body: (inout PSKDeliveryQueue) -> R) -> R {
            client.shared.withLock { body(&$0.queue) }
        }

        func report(_ event: PSKBrokerClientEvent) {
            client.eventHandler?(event)
        }

        mutating func run() {
            while !client.shared.withLock({ $0.stopping }) {
                let now = POSIX.monotonicNow()
                if connection < 0 && withQueue({ $0.wantsConnection(now: now) }) { connect(now: now) }
                if connection >= 0, case .spawnBroker = endpoint,
                   let wanted = client.shared.withLock({ $0.brokerArguments }), wanted != spawnedArguments {
                    // A planned restart, not a lost broker: no back-off, every key sent again.
                    logger.info("the PSK broker's arguments (its allow-list) changed; starting it again with them")
                    closeConnection()
                    reapChild(wait: true)
                    connect(now: now)
                }
                if connection >= 0 { sendNext(now: now) }

                var fds = [pollfd(fd: client.wake.read, events: Int16(POLLIN), revents: 0)]
                if connection >= 0 { fds.append(pollfd(fd: connection, events: Int16(POLLIN), revents: 0)) }
                var wakeAt = withQueue { $0.nextDeadline() } ?? now + 60
                if childPID != 0 { wakeAt = min(wakeAt, now + 1) }  // to notice a child that exits
                let timeout = Int32(max(0, min(wakeAt - now, 60)) * 1000) + 1
                let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }
                if ready < 0 && errno != EINTR {
                    // Not a state to spin in: report it, drop the connection if it is the cause, pause.
                    let code = errno
                    logger.error("PSK broker client: poll failed: \(String(cString: strerror(code)))")
                    if code == EBADF && connection >= 0 { lose(reason: "poll: \(String(cString: strerror(code)))") }
                    usleep(100_000)
                    continue
                }
                if fds[0].revents != 0 { drainWake() }
                if fds.count > 1 && fds[1].revents != 0 { receive() }
                if connection >= 0, withQueue({ $0.answerOverdue(now: POSIX.monotonicNow()) }) {
                    lose(reason: "no answer within \(formatSeconds(client.options.responseTimeout))")
                }
                reapChild(wait: false)
            }
            withQueue { $0.stop() }
            closeConnection()
            reapChild(wait: true)
        }

        /// Opens the endpoint: connects, claims the fd, or spawns the broker.
        mutating func connect(now: Double) {
            do {
                switch endpoint {
                case .socketPath(let path):
                    connection = try UnixSocket.connect(path: path)
                case .inheritedDescriptor(let fd):
                    connection = try POSIX.claimInheritedUnixStreamSocket(fd, name: "broker fd \(fd)")
                case .spawn(let executable, let arguments):
                    reapChild(wait: true)
                    let (mine, theirs) = try POSIX.socketPair()
                    defer { close(theirs) }
                    do {
                        childPID = try ProcessSpawner.spawn(executable: executable, arguments: ["--stream-fd", "3"] + arguments,
                                                            descriptors: [(theirs, 3)])
                    } catch {
                        close(mine)
                        throw error
                    }
                    connection = mine
                case .spawnBroker(let executable, let configured):
                    reapChild(wait: true)
                    let arguments = client.shared.withLock { $0.brokerArguments } ?? configured
                    spawnedArguments = arguments
                    let requests = try POSIX.pipe()
                    defer { close(requests.read) }
                    let responses: (read: Int32, write: Int32)
                    do {
                        responses = try POSIX.pipe()
                    } catch {
                        close(requests.write)
                        throw error
                    }
                    defer { close(responses.write) }
                    do {
                        childPID = try ProcessSpawner.spawn(executable: executable, arguments: arguments,
                                                            descriptors: [(requests.read, 0), (responses.write, 1)])
                    } catch {
                        close(requests.write)
                        close(responses.read)
                        throw error
                    }
                    connection = responses.read
                    outgoing = requests.write
                case .inProcessPipes(let requests, let responses):
                    let read = fcntl(responses, F_DUPFD_CLOEXEC, 3)
                    guard read >= 0 else { throw SystemError.failed("fcntl(F_DUPFD_CLOEXEC)", "in-process broker pipe", errno: errno) }
                    let written = fcntl(requests, F_DUPFD_CLOEXEC, 3)
                    guard written >= 0 else {
                        close(read)
                        throw SystemError.failed("fcntl(F_DUPFD_CLOEXEC)", "in-process broker pipe", errno: errno)
                    }
                    connection = read
                    outgoing = written
                }
                if outgoing < 0 { outgoing = connection }
                try POSIX.setNonBlocking(connection)
                if outgoing != connection { try POSIX.setNonBlocking(outgoing) }
            } catch {
                closeConnection()
                if let delay = withQueue({ $0.connectionLost(now: now) }) {
                    logger.warning("PSK broker unavailable (\(endpoint)): \(error); retrying in \(delay) s")
                } else {
                    giveUp(reason: "\(error)")
                }
                return
            }
            decoder.reset()
            withQueue { $0.connected(now: now) }
            logger.info("connected to the PSK broker (\(endpoint)); sending every peer's current key")
            report(.connected)
        }

        func giveUp(reason: String) {
            logger.error("PSK broker (\(endpoint)) is gone and cannot be reconnected: \(reason); keys are no longer delivered")
            report(.unrecoverable(reason: reason))
        }

        /// Closes the connection's fds (one socket, or the two pipes).
        mutating func closeConnection() {
            if outgoing >= 0 && outgoing != connection { close(outgoing) }
            if connection >= 0 { close(connection) }
            connection = -1
            outgoing = -1
            decoder.reset()
        }

        /// The connection broke: closes it, reports it, and leaves the reconnect to the queue.
        mutating func lose(reason: String) {
            closeConnection()
            reportLoss(withQueue { $0.connectionLost(now: POSIX.monotonicNow()) }, reason: reason)
        }

        func reportLoss(_ delay: Double?, reason: String) {
            guard delay != nil else {
                giveUp(reason: reason)
                return
            }
            logger.warning("lost the PSK broker (\(endpoint)): \(reason); reconnecting")
            report(.disconnected(reason: reason))
        }

        mutating func reapChild(wait: Bool) {
            guard childPID != 0 else { return }
            if wait {
                _ = ProcessSpawner.end(childPID, patience: 2)
                childPID = 0
                return
            }
            var status: Int32 = 0
            if waitpid(childPID, &status, WNOHANG) == childPID {
                logger.warning("the spawned broker process (pid \(childPID)) \(ProcessSpawner.describe(status: status))")
                childPID = 0
            }
        }

        /// Sends the request the queue picks, if any.
        mutating func sendNext(now: Double) {
            guard let request = withQueue({ $0.nextRequest(now: now) }) else { return }
            let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: BrokerWire.lengthPrefixSize + BrokerWire.requestSize, alignment: 8)
            defer {
                wipe(frame)
                frame.deallocate()
            }
            do {
                let setPsk = try SetPskRequest(interface: request.pair.interface, peer: request.pair.peer, presharedKey: request.key)
                LengthPrefixedFrames.lengthPrefix(BrokerWire.requestSize).withUnsafeBytes {
                    UnsafeMutableRawBufferPointer(rebasing: frame[0..<8]).copyMemory(from: $0)
                }
                setPsk.encodePayload(into: UnsafeMutableRawBufferPointer(rebasing: frame[8...]))
                try POSIX.writeAll(outgoing, UnsafeRawBufferPointer(frame), context: "\(endpoint)")
            } catch {
                lose(reason: "\(error)")
            }
        }

        mutating func receive() {
            let got: Int
            do {
                let fd = connection
                let context = "\(endpoint)"
                got = try decoder.readInto { free in try POSIX.readSome(fd, into: free, context: context) ?? -1 }
            } catch {
                lose(reason: "\(error)")
                return
            }
            if got == 0 {
                let buffered = decoder.bufferedByteCount
                closeConnection()
                switch withQueue({ $0.closedByBroker(now: POSIX.monotonicNow(), buffered: buffered) }) {
                case .idle:
                    // The socket handler closes a connection that has sent no request for a while (its
                    // idle timeout, a defence against clients that only hold a slot): routine, not a
                    // lost broker. Nothing was ever sent on it.
                    logger.info("the PSK broker closed the idle connection (\(endpoint)); reconnecting")
                case .lost(let delay):
                    reportLoss(delay, reason: "the broker closed the connection")
                }
                return
            }
            while connection >= 0 {
                let frame: DecodedFrame<SetPskResponse>?
                do {
                    frame = try decoder.nextFrame { try SetPskResponse(decodingPayload: UnsafeRawBufferPointer($0)) }
                } catch {
                    lose(reason: "malformed response: \(error)")
                    return
                }
                guard let frame else { return }
                guard case .payload(let response) = frame else {
                    lose(reason: "oversized response")
                    return
                }
                let now = POSIX.monotonicNow()
                guard let event = withQueue({ $0.answered(response.returnCode, now: now) }) else {
                    lose(reason: "a response nobody asked for")
                    return
                }
                switch event {
                case .delivered(let interface, let peer):
                    logger.debug("PSK broker installed the key of peer \(peer) on \(interface)")
                case .failed(let interface, let peer, let code):
                    logger.warning("PSK broker answered \(code) for peer \(peer) on \(interface); will retry")
                default:
                    break
                }
                report(event)
                sendNext(now: now)
            }
        }

        func drainWake() {
            var buffer = [UInt8](repeating: 0, count: 64)
            while buffer.withUnsafeMutableBytes({ read(client.wake.read, $0.baseAddress, $0.count) }) > 0 {}
        }
    }
}
