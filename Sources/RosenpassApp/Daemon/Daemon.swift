// The key-exchange daemon: UDP sockets, the protocol core's timers, key output (`docs/components.md` §6).
//
// I/O design: one thread, non-blocking POSIX UDP sockets and poll(2). The protocol core is a pure,
// synchronous state machine (`CryptoServer`), and everything the daemon does per datagram is short
// and ordered: hand the bytes to the core, send its reply, write the key file, print the line. A
// single thread with poll keeps that order obvious, needs no locks around the core's state, and has
// no dependency beyond the C library; an event-loop framework (SwiftNIO) would add channels, futures
// and thread hops for a handful of sockets without buying anything. The only other thread is the
// PSK broker client's (RosenpassBroker), which owns the broker connection; handing it a key is a
// call that never blocks the loop.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import RosenpassBroker
import RosenpassBrokerClient
import RosenpassCrypto
import RosenpassProtocol
import RosenpassSecureMemory
import Synchronization
import RosenpassSystem

/// How the daemon reaches WireGuard for peers with a `device`/`peer` section.
public enum BrokerChoice: Sendable {
    /// No peer needs WireGuard.
    case none
    /// Connect to, or spawn, this broker (`docs/components.md` §2.3, issue 6).
    case endpoint(PSKBrokerEndpoint)
}

/// The `rosenpass` key-exchange daemon.
///
/// It binds the configured UDP sockets, feeds received datagrams and the clock to the protocol core,
/// sends what the core returns, and delivers every key event: it writes `key_out` atomically (mode
/// 0600), prints the `output-key …` line on stdout, and hands WireGuard keys to the PSK broker (or,
/// for peers with `extra_params`, to `wg set`). It tells the operator what is going on
/// (``PeerMonitor``, ``DropLog``), and looks host-name endpoints up again when a peer stops
/// answering (``EndpointResolver``). SIGINT, SIGTERM and SIGQUIT end ``run()`` normally; the core
/// and every key are released (and so zeroed) before it returns.
public final class Daemon {
    /// Run-time state of one peer, beside the core's protocol state.
    struct PeerRuntime {
        let handle: PeerHandle
        let index: Int
        /// Its configuration entry, to tell at a reload whether it changed.
        let settings: PeerSettings
        /// Taken out of the configuration by a reload; the entry keeps its index (the core's handle).
        var isRemoved = false
        /// The id printed on stdout (standard base64).
        let peerID: String
        /// How log lines name the peer.
        let label: PeerLabel
        let keyOut: String?
        /// The WireGuard peer its keys go to through the PSK broker.
        let wireGuard: (interface: String, peer: WireGuardPublicKey)?
        /// The configured endpoint; `nil` for a responder-only peer.
        let endpoint: HostAndPort?
        /// The endpoint's addresses (empty for a responder-only peer), as last resolved.
        var configuredAddresses: [SocketAddress]
        /// Where the peer last sent us a valid message from; replies and initiations go there.
        var learned: (socket: Int, address: SocketAddress)?
        /// The next configured address to try (round robin while the peer is being discovered).
        var nextAddress = 0
        /// When its endpoint was last looked up again.
        var lastLookup: Seconds = -.infinity
    }

    /// How long InitHellos go unanswered before a host-name endpoint is looked up again, and how
    /// long at least between two lookups for one peer.
    static let lookupAfterSilence: Seconds = 10
    static let lookupInterval: Seconds = 30

    var server: CryptoServer
    /// One entry per peer the core knows, removed ones included: `peers[i].handle.index == i`.
    var peers: [PeerRuntime] = []
    /// Configured and learned addresses → peer, to tell which peer a dropped datagram came from.
    var peerByAddress: [SocketAddress: Int] = [:]
    private let sockets: [UDPSocket]
    private let signals: SignalPipe
    private let stopSignals: Set<Int32>
    let broker: PSKBrokerClient?
    /// `wg`, when the daemon runs it for peers with `extra_params` (as the reference does).
    let wireGuardExecutable: String?
    var wireGuardCommand: WireGuardCommand?
    private let resolver: EndpointResolver?
    /// The configuration file, which a reload reads again (nil: started from `exchange` words).
    let configurationFile: String?
    /// The configuration the daemon started with: what a reload cannot change is compared with it.
    let startConfiguration: Configuration
    /// Whether SIGHUP reloads the configuration (there is a file, and SIGHUP does not stop the daemon).
    private let reloadsOnHangUp: Bool
    /// `control_socket`: status, metrics (docs/control-socket.md).
    private let control: ControlServer?
    /// `metrics_listen`: Prometheus over HTTP.
    private let metricsServer: MetricsHTTPServer?
    /// What the broker client reported (its thread writes, the loop reads).
    private let brokerCounters = BrokerCounters()
    /// What the default broker may key (``allowInDefaultBroker(_:)``): every pair, the first
    /// ``defaultBrokerPeerLimit`` in the order they came, and their interfaces.
    var defaultBrokerAllowList: (pairs: Set<PeerOnInterface>, order: [PeerOnInterface], interfaces: [String]) = ([], [], [])
    private var datagramsReceived = 0
    var monitor = PeerMonitor(peers: [], now: 0)
    private var drops = DropLog()
    private var entropy = SystemEntropy()
    let logger: Logger
    private let start: timespec
    /// Whether the warning that secrets are not locked in RAM was given.
    private var warnedAboutUnlockedSecrets = false
    private var consecutiveErrors = 0

    /// SIGINT, SIGTERM and SIGQUIT: the signals that end the daemon (`docs/components.md` §6.2).
    public static let standardStopSignals: [Int32] = [SIGINT, SIGTERM, SIGQUIT]

    /// The addresses the daemon's sockets are bound to (after the kernel picked ports for port 0).
    public var localAddresses: [SocketAddress] { sockets.map(\.localAddress) }

    /// Sets up everything the daemon needs; nothing is received or sent yet.
    ///
    /// - Parameters:
    ///   - configuration: the configuration (listen addresses, verbosity).
    ///   - loaded: its keys and peers, loaded by ``Configuration/load(resolve:)``.
    ///   - kems: the KEM implementations for the protocol core.
    ///   - broker: how to reach WireGuard.
    ///   - wireGuardCommand: `wg` (or its path) to run for peers with `extra_params`, as the
    ///     reference does; `nil` leaves their `extra_params` unused and sends their keys to the broker.
    ///   - logger: for everything but the stdout lines.
    ///   - stopSignals: the signals that end ``run()`` normally (`rp` adds SIGHUP). Otherwise SIGHUP
    ///     reloads the configuration (``reload(at:)``).
    ///   - configurationFile: the file `configuration` came from, which a reload reads again.
    ///   - resolve: looks an endpoint up again while the daemon runs.
    /// - Throws: ``AppError`` when a socket cannot be bound or the core refuses a key or peer.
    public init(
        configuration: Configuration, loaded: LoadedConfiguration, kems: some KEMSuite,
        broker: BrokerChoice, wireGuardCommand: String? = nil, logger: Logger,
        stopSignals: [Int32] = Daemon.standardStopSignals, configurationFile: String? = nil,
        resolve: @escaping @Sendable (HostAndPort) throws(AppError) -> [SocketAddress] = { endpoint throws(AppError) in
            try endpoint.resolve()
        }
    ) throws(AppError) {
        guard let keypair = loaded.keypair else {
            throw .runtime("Server keypair missing: set public_key and secret_key")
        }
        self.logger = logger
        var entropy = SystemEntropy()
        do {
            server = try CryptoServer(secretKey: keypair.secretKey, publicKey: keypair.publicKey, kems: kems, entropy: &entropy)
        } catch {
            throw .runtime("cannot use our key pair: \(error)")
        }
        wireGuardExecutable = wireGuardCommand
        self.configurationFile = configurationFile
        startConfiguration = configuration
        resolver = try EndpointResolver(resolve: resolve)
        sockets = try Self.bind(configuration.listen, logger: logger)
        // SIGUSR1 asks for a status report; SIGUSR2 is ignored. Neither ends the daemon.
        // SIGHUP reloads the configuration, unless it is a stop signal (rp's).
        reloadsOnHangUp = configurationFile != nil && !stopSignals.contains(SIGHUP)
        signals = try SignalPipe(signals: stopSignals + [SIGUSR1] + (reloadsOnHangUp ? [SIGHUP] : []))
        self.stopSignals = Set(stopSignals)
        SignalPipe.ignoreSIGPIPE()
        signal(SIGUSR2, SIG_IGN)

        switch broker {
        case .none:
            self.broker = nil
        case .endpoint(let endpoint):
            do {
                let counters = brokerCounters
                self.broker = try PSKBrokerClient(endpoint: endpoint, logger: logger) { counters.record($0) }
            } catch {
                throw .runtime("cannot set up the PSK broker client (\(endpoint)): \(error)")
            }
        }
        if let path = configuration.controlSocket {
            var group: gid_t?
            if let name = configuration.controlSocketGroup {
                guard let entry = getgrnam(name) else {
                    throw .runtime("control_socket_group: there is no group named \(name)")
                }
                group = entry.pointee.gr_gid
            }
            control = try ControlServer(path: path, group: group, logger: logger)
        } else {
            control = nil
        }
        if let address = configuration.metricsListen {
            guard let literal = SocketAddress(literal: address) else {
                throw .runtime("metrics_listen \"\(address)\" is not an IP socket address")
            }
            metricsServer = try MetricsHTTPServer(binding: literal, logger: logger)
        } else {
            metricsServer = nil
        }
        var now = timespec()
        clock_gettime(POSIX.timerClock, &now)
        start = now
        for (index, peer) in loaded.peers.enumerated() {
            let checked: PreparedPeer
            do throws(AppError) {
                checked = try prepare(peer, whileRunning: false)
            } catch {
                throw .runtime("peer \(index): \(error)")
            }
            try add(peer, checked, at: 0)
        }
    }

    /// Binds the listen addresses, or "any" as `docs/components.md` §6.3 says: `[::]:0`, plus
    /// `0.0.0.0:0` when that socket is IPv6-only or cannot be made.
    private static func bind(_ listen: [String], logger: Logger) throws(AppError) -> [UDPSocket] {
        if !listen.isEmpty {
            var sockets = [UDPSocket]()
            for text in listen {
                guard let address = SocketAddress(literal: text) else {
                    throw .runtime("listen address \"\(text)\" is not an IP socket address")
                }
                sockets.append(try UDPSocket(binding: address))
            }
            return sockets
        }
        var sockets = [UDPSocket]()
        var firstError: AppError?
        do {
            sockets.append(try UDPSocket(binding: .any(family: AF_INET6)))
        } catch {
            firstError = error
            logger.debug("cannot bind [::]:0 (\(error)); trying IPv4 only")
        }
        if sockets.isEmpty || sockets[0].isIPv6Only {
            do {
                sockets.append(try UDPSocket(binding: .any(family: AF_INET)))
            } catch {
                if sockets.isEmpty { throw firstError ?? error }
            }
        }
        return sockets
    }

    /// Warns once, the first time a secret could not be locked in RAM (RLIMIT_MEMLOCK).
    private func warnIfSecretsAreNotLocked() {
        guard !warnedAboutUnlockedSecrets else { return }
        let status = SecureMemory.status
        guard let failure = status.lockFailure else { return }
        warnedAboutUnlockedSecrets = true
        logger.warning(
            "secret keys cannot be locked in RAM (mlock: \(failure)), so the system may write them to swap; raise the limit on locked memory (ulimit -l, or LimitMEMLOCK= in the systemd unit) to \(status.lockedBytes + status.unlockedBytes + 65_536) bytes or more")
    }

    /// The longest the loop sleeps in `poll`. poll's timeout does not run while the machine is
    /// suspended, so after a resume the loop would otherwise wait out the rest of a long sleep before
    /// it looks at the (suspend-aware) clock and finds its sessions stale.
    static let longestSleep: Seconds = 5

    /// Seconds since the daemon started, on ``POSIX/timerClock`` (suspended time included on Linux).
    func now() -> Seconds {
        var current = timespec()
        clock_gettime(POSIX.timerClock, &current)
        return Double(current.tv_sec - start.tv_sec) + Double(current.tv_nsec - start.tv_nsec) / 1e9
    }

    /// Runs until SIGINT, SIGTERM or SIGQUIT.
    ///
    /// - Throws: ``AppError`` when ten iterations in a row fail (e.g. `key_out` cannot be written
    ///   and stdout is gone), as the reference gives up after ten event-loop errors.
    public func run() throws(AppError) {
        logger.notice("\(startupSummary)")
        warnIfSecretsAreNotLocked()
        if let broker {
            do {
                try broker.start()
            } catch {
                throw .runtime("cannot start the PSK broker client: \(error)")
            }
        }
        eraseWireGuardKeysAtStart()
        defer {
            control?.shutdown()
            broker?.shutdown()
            resolver?.shutdown()
        }

        var receiveBuffer = [UInt8](repeating: 0, count: 4096)
        var nextPoll: Seconds = 0
        var fixed = sockets.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        fixed.append(pollfd(fd: signals.readEnd, events: Int16(POLLIN), revents: 0))
        if let resolver { fixed.append(pollfd(fd: resolver.wakeReadEnd, events: Int16(POLLIN), revents: 0)) }
        let signalSlot = sockets.count

        while true {
            warnIfSecretsAreNotLocked()  // memory for more peers' sessions may hit the limit later
            var iterationFailed = false
            var wake = min(nextPoll, monitor.nextCheck, drops.nextSummary ?? .infinity)
            if wireGuardCommand?.isBusy == true { wake = min(wake, now() + 0.05) }
            // The control and metrics clients come and go: their descriptors follow the fixed ones.
            var fds = fixed
            let controlSlot = fds.count
            if let control {
                fds += control.pollDescriptors
                wake = min(wake, control.nextDeadline)
            }
            let metricsSlot = fds.count
            if let metricsServer {
                fds += metricsServer.pollDescriptors
                wake = min(wake, metricsServer.nextDeadline)
            }
            let timeout = max(0, min(wake - now(), Self.longestSleep))
            let milliseconds = Int32((timeout * 1000).rounded(.up))
            let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), milliseconds) }
            if ready < 0 && errno != EINTR {
                throw .system("poll", "the daemon's sockets", errno: errno)
            }
            if fds[signalSlot].revents != 0 {
                let received = signals.drain()
                if let stop = received.first(where: stopSignals.contains) {
                    logger.notice("\(String(cString: strsignal(stop))): shutting down")
                    return
                }
                if received.contains(SIGUSR1) { logStatus() }
                if received.contains(SIGHUP) && reloadsOnHangUp {
                    logger.notice("SIGHUP: reloading the configuration")
                    _ = reload(at: now())
                }
            }
            for index in sockets.indices where fds[index].revents != 0 {
                if !receiveBatch(socket: index, buffer: &receiveBuffer) { iterationFailed = true }
            }
            if let resolver, fds[signalSlot + 1].revents != 0 {
                for result in resolver.takeResults() { apply(result) }
            }
            if let control {
                control.handle(fds[controlSlot..<metricsSlot], now: now()) { request, who in answer(request, from: who) }
            }
            if let metricsServer {
                metricsServer.handle(fds[metricsSlot...], now: now()) { self.statusSnapshot(at: self.now()).prometheusText }
            }
            let time = now()
            let outcome = server.poll(now: time, entropy: &entropy)
            report(outcome.activity, at: time)
            for (peer, message) in outcome.messages { send(message, to: peer) }
            for event in outcome.events {
                if !deliver(event, at: time) { iterationFailed = true }
            }
            log(monitor.check(at: time))
            log(drops.flush(at: time))
            if let wireGuardCommand {
                log(wireGuardCommand.poll(label: { self.peers.indices.contains($0) ? self.peers[$0].label : nil }, at: time))
            }
            nextPoll = outcome.nextPoll
            try countErrors(iterationFailed)
        }
    }

    /// SIGUSR1: the state of the daemon and of every peer, at notice level.
    private func logStatus() {
        let time = now()
        let dropped = drops.totals.values.reduce(0, +)
        let peerCount = peers.filter { !$0.isRemoved }.count
        let reasons = drops.totals.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        logger.notice(
            "status: up \(humanDuration(time)); \(peerCount) peer\(peerCount == 1 ? "" : "s"); \(dropped) datagram\(dropped == 1 ? "" : "s") dropped\(reasons.isEmpty ? "" : " (\(reasons))"); \(drops.cookieReplies) cookie request\(drops.cookieReplies == 1 ? "" : "s") sent")
        for line in monitor.statusLines(at: time) { logger.notice("status: \(line)") }
    }

    // MARK: - Control

    /// Answers a control request (docs/control-socket.md).
    private func answer(_ request: ControlRequest, from who: String) -> ControlResponse {
        switch request.kind {
        case .status:
            do {
                return ControlResponse(kindCode: request.kind.rawValue, result: .ok, body: try statusSnapshot(at: now()).encodedJSON())
            } catch {
                return ControlResponse(answering: request, .failed, text: "the status could not be encoded: \(error)")
            }
        case .metrics:
            return ControlResponse(answering: request, .ok, text: statusSnapshot(at: now()).prometheusText)
        case .reload:
            logger.notice("reload requested on the control socket by \(who)")
            let result = reload(at: now())
            return ControlResponse(answering: request, result.succeeded ? .ok : .failed, text: result.message)
        case .addPeer, .removePeer:
            guard let flags = request.body.first else {
                return ControlResponse(answering: request, .badRequest, text: "the request has no flags byte")
            }
            let text = String(decoding: request.body.dropFirst(), as: UTF8.self)
            let persist = flags & 1 != 0
            let result = request.kind == .addPeer
                ? addPeer(toml: text, persist: persist, at: now(), requestedBy: who)
                : removePeer(named: text, persist: persist, at: now(), requestedBy: who)
            return ControlResponse(answering: request, result.succeeded ? .ok : .failed, text: result.message)
        }
    }

    /// The daemon and every peer now, for `rosenpass status` and the metrics.
    func statusSnapshot(at time: Seconds) -> DaemonStatus {
        let brokerState: DaemonStatus.Broker
        if let broker {
            let counts = brokerCounters.snapshot
            brokerState = .init(
                kind: "broker", endpoint: broker.endpoint.description, connected: counts.connected,
                keysDelivered: counts.delivered, keysFailed: counts.failed)
        } else if let wireGuardCommand {
            brokerState = .init(kind: "wg", endpoint: nil, connected: nil, keysDelivered: wireGuardCommand.succeeded, keysFailed: wireGuardCommand.failed)
        } else {
            brokerState = .init(kind: "none", endpoint: nil, connected: nil, keysDelivered: 0, keysFailed: 0)
        }
        let peerStates = peers.filter { !$0.isRemoved }.map { runtime -> DaemonStatus.Peer in
            let core = server.status(of: runtime.handle)
            let watched = monitor.peers[runtime.index]
            let next: Double? = core.awaiting != nil ? 0 : core.rekeyAt.map { max(0, $0 - time) } ?? (core.initiates ? 0 : nil)
            return DaemonStatus.Peer(
                name: runtime.label.name, id: runtime.peerID, label: runtime.label.description,
                endpoint: runtime.label.endpoint, lastSeenAt: runtime.learned?.address.description,
                wireGuardDevice: runtime.label.wireGuard?.device, wireGuardPeer: runtime.label.wireGuard?.peerKey,
                keyOut: runtime.keyOut, protocolVersion: server.version(of: runtime.handle).rawValue,
                mcelieceVariant: core.initiatorVariant.rawValue, mcelieceVariantSource: core.variantSource.rawValue,
                initiates: core.initiates, lastExchangeSecondsAgo: watched.lastKeyAt.map { time - $0 },
                nextRekeySeconds: next, handshakeAwaiting: core.awaiting.map { "\($0)" },
                handshakesStarted: watched.handshakesStarted, handshakesCompleted: watched.handshakesCompleted,
                handshakesFailed: watched.handshakesFailed, lastFailure: watched.lastFailure?.what,
                lastFailureSecondsAgo: watched.lastFailure.map { time - $0.at }, holdsCookie: core.holdsCookie,
                cookieRequests: watched.cookieRequests, overdue: watched.warnings > 0)
        }
        return DaemonStatus(
            version: RosenpassCommand.version, uptimeSeconds: time, listen: sockets.map { $0.localAddress.description },
            broker: brokerState,
            datagrams: .init(
                received: datagramsReceived, dropped: Dictionary(uniqueKeysWithValues: drops.totals.map { ($0.key.rawValue, $0.value) }),
                cookieRepliesSent: drops.cookieReplies),
            peers: peerStates)
    }

    /// The notice that opens the log: what runs, where it listens, and its peers.
    var startupSummary: String {
        let listening = sockets.map { $0.localAddress.description }.joined(separator: ", ")
        let shown = peers.prefix(8).map(\.label.details)
        let more = peers.count > shown.count ? ", and \(peers.count - shown.count) more" : ""
        let list = peers.isEmpty ? "no peers" : "\(peers.count) peer\(peers.count == 1 ? "" : "s"): \(shown.joined(separator: "; "))\(more)"
        return "rosenpass \(RosenpassCommand.version) listening on \(listening) with \(list)"
    }

    /// Handles up to 64 waiting datagrams of one socket, so a flood on one socket cannot starve
    /// the timers or the other sockets. Returns false on a socket error.
    private func receiveBatch(socket index: Int, buffer: inout [UInt8]) -> Bool {
        var succeeded = true
        let time = now()
        for _ in 0..<64 {
            let received: UDPSocket.Received?
            do {
                received = try withAppErrors {
                    try buffer.withUnsafeMutableBytes { raw in
                        try sockets[index].receive(into: raw) { first, count, source in
                            // An InitHello from a source that used up its share under load: drop it
                            // before anything is built or checked (docs/dos-cookies.md).
                            first == MessageType.initHello.rawValue && (count == 1060 || count == 1092)
                                && server.refusesInitHello(from: source, now: time)
                        }
                    }
                }
            } catch {
                logger.error("\(error)")
                return false
            }
            switch received {
            case nil:
                return succeeded
            case .refused:
                datagramsReceived += 1
                drops.refused(.rateLimited, at: time)
            case .datagram(let count, let sender):
                datagramsReceived += 1
                if !handle(Array(buffer.prefix(count)), from: sender, socket: index) { succeeded = false }
            }
        }
        return succeeded
    }

    /// Gives one datagram to the core; sends its reply and delivers its events. A datagram the core
    /// rejects changes nothing and is only reported. Returns false when a key could not be delivered.
    private func handle(_ datagram: [UInt8], from sender: SocketAddress, socket: Int) -> Bool {
        let time = now()
        let outcome: HandleOutcome
        do {
            outcome = try server.handle(
                datagram: datagram, from: sender.hostID(socketIndex: socket), source: sender.sourceKey, now: time, entropy: &entropy)
        } catch {
            noteDropped(datagram, from: sender, error: error, at: time)
            return true
        }
        // Learn the peer's address only from a completed handshake: an InitHello can be replayed
        // from anywhere, and learning from it would let anyone redirect our messages to the peer.
        for case .keyExchanged(let peer, _) in outcome.events {
            learn(sender, socket: socket, for: peer)
        }
        report(outcome.activity, at: time)
        if let reply = outcome.reply {
            if reply.first == MessageType.cookieReply.rawValue { log(drops.cookieReplySent(at: time)) }
            if let code = sockets[socket].send(reply, to: sender) {
                logger.warning("cannot reply to \(sender): \(String(cString: strerror(code)))")
            }
        }
        var delivered = true
        for event in outcome.events where !deliver(event, at: time) { delivered = false }
        return delivered
    }

    /// A dropped datagram: counted, told to the peer's monitor when it can be told whose it is, and
    /// logged at info level within ``DropLog``'s limits.
    private func noteDropped(_ datagram: [UInt8], from sender: SocketAddress, error: ProtocolError, at time: Seconds) {
        let index = error.peer?.index ?? peerByAddress[sender.unmapped]
        if let index { monitor.dropped(error.reason, detail: error.detail, peer: PeerHandle(index: index), at: time) }
        log(drops.dropped(error.reason, at: time) {
            let kind = datagram.first.flatMap(MessageType.init(rawValue:)).map { "\($0)" } ?? "datagram"
            let whose = index.map { " (peer \(self.peers[$0].label))" } ?? ""
            return "\(kind) of \(datagram.count) bytes from \(sender)\(whose): \(error)"
        })
    }

    /// Logs what the core reports, and looks an endpoint up again when the peer keeps not answering.
    private func report(_ activity: [PeerActivity], at time: Seconds) {
        for item in activity {
            log(monitor.record(item, at: time))
            switch item {
            case .retransmitted(let peer, .initHello, _), .handshakeExpired(let peer, .respHello, _):
                if let since = monitor.peers[peer.index].unansweredSince, time - since >= Self.lookupAfterSilence {
                    lookUpAgain(peer.index, at: time)
                }
            default:
                break
            }
        }
    }

    func log(_ lines: [LogLine]) {
        for line in lines { logger.log(level: line.level, "\(line.message)") }
    }

    // MARK: - Addresses

    /// Remembers where a peer completed a handshake from; later messages to the peer go there. A
    /// peer without a configured endpoint still never initiates (as in the reference): the other
    /// side, which knows where we are, starts every handshake.
    private func learn(_ address: SocketAddress, socket: Int, for peer: PeerHandle) {
        guard peers.indices.contains(peer.index), !peers[peer.index].isRemoved else { return }
        if peers[peer.index].learned?.address != address || peers[peer.index].learned?.socket != socket {
            logger.debug("peer \(peers[peer.index].label) is at \(address)")
        }
        peers[peer.index].learned = (socket, address)
        peerByAddress[address.unmapped] = peer.index
    }

    /// Indexes a peer's configured and learned addresses.
    func indexAddresses(of index: Int) {
        for address in peers[index].configuredAddresses { peerByAddress[address.unmapped] = index }
        if let learned = peers[index].learned { peerByAddress[learned.address.unmapped] = index }
    }

    /// Starts a lookup of a host-name endpoint, at most every ``lookupInterval``.
    private func lookUpAgain(_ index: Int, at time: Seconds) {
        guard let resolver, !peers[index].isRemoved, let endpoint = peers[index].endpoint, !endpoint.isLiteral,
            time - peers[index].lastLookup >= Self.lookupInterval, !resolver.isResolving(index)
        else { return }
        peers[index].lastLookup = time
        logger.info("peer \(peers[index].label) does not answer; looking \(endpoint.host) up again")
        resolver.request(peer: index, endpoint: endpoint)
    }

    /// Takes the addresses a lookup found: when they changed, messages to the peer go there from now on.
    private func apply(_ result: EndpointResolver.Result) {
        let index = result.peer
        guard peers.indices.contains(index), !peers[index].isRemoved else { return }
        let old = peers[index].configuredAddresses
        switch result.addresses {
        case .failure(let error):
            logger.info("peer \(peers[index].label): \(error); still trying \(old.map(\.description).joined(separator: ", "))")
        case .success(let addresses) where addresses == old:
            logger.debug("peer \(peers[index].label): \(result.endpoint) still resolves to \(old.map(\.description).joined(separator: ", "))")
        case .success(let addresses):
            logger.notice(
                "peer \(peers[index].label): \(result.endpoint) now resolves to \(addresses.map(\.description).joined(separator: ", ")) (was \(old.map(\.description).joined(separator: ", "))); sending there")
            for address in old where peerByAddress[address.unmapped] == index { peerByAddress[address.unmapped] = nil }
            peers[index].configuredAddresses = addresses
            peers[index].nextAddress = 0
            peers[index].learned = nil
            indexAddresses(of: index)
            // Start over at the new address now rather than at the next retransmission (5–10 s).
            if server.hasHandshake(with: peers[index].handle),
                let hello = try? server.initiateHandshake(with: peers[index].handle, now: now(), entropy: &entropy)
            {
                logger.info("peer \(peers[index].label): handshake started again, at the new address")
                send(hello, to: peers[index].handle)
            }
        }
    }

    /// Sends a message the core produced for `peer`: to where the peer was last heard from, or else
    /// to its configured addresses in turn, on the first socket that can reach the address.
    private func send(_ message: [UInt8], to peer: PeerHandle) {
        guard peers.indices.contains(peer.index), !peers[peer.index].isRemoved else { return }
        if let learned = peers[peer.index].learned {
            if let code = sockets[learned.socket].send(message, to: learned.address) {
                logger.warning("cannot send to peer \(peers[peer.index].label) at \(learned.address): \(String(cString: strerror(code)))")
            }
            return
        }
        let addresses = peers[peer.index].configuredAddresses
        guard !addresses.isEmpty else { return }
        let address = addresses[peers[peer.index].nextAddress % addresses.count]
        peers[peer.index].nextAddress += 1
        var lastError: Int32 = EAFNOSUPPORT
        // Same family first; an IPv4 address can also go through a dual-stack IPv6 socket.
        let order = sockets.indices.sorted { (sockets[$0].family == address.family ? 0 : 1) < (sockets[$1].family == address.family ? 0 : 1) }
        for index in order {
            guard let code = sockets[index].send(message, to: address) else { return }
            lastError = code
        }
        logger.warning("cannot send to peer \(peers[peer.index].label) at \(address): \(String(cString: strerror(lastError)))")
    }

    // MARK: - Keys

    /// Delivers a key event (`docs/components.md` §6.1): (1) write `key_out`, (2) print the line,
    /// (3) hand the key to WireGuard (PSK broker or `wg set`). A stale key is replaced by a random
    /// one everywhere. Returns false when (1) or (2) failed.
    func deliver(_ event: ServerEvent, at time: Seconds, removing: Bool = false) -> Bool {
        let peer: PeerHandle
        let key: SecretBytes
        let kind: KeyOutputEvent
        switch event {
        case .keyExchanged(let handle, let outputKey):
            peer = handle
            key = outputKey.bytes
            kind = .exchanged
        case .keyStale(let handle):
            peer = handle
            key = SecretBytes.random(count: 32)
            kind = .stale
        }
        guard peers.indices.contains(peer.index), !peers[peer.index].isRemoved else { return true }
        let runtime = peers[peer.index]
        if kind == .stale && !removing {
            log(monitor.keyExpired(peer, at: time))
            // Look for the peer again from its configured endpoint, as the reference does.
            if !runtime.configuredAddresses.isEmpty { peers[peer.index].learned = nil }
            lookUpAgain(peer.index, at: time)
        }
        var succeeded = true
        if let keyOut = runtime.keyOut {
            do {
                try KeyOutputFile.write(key, to: keyOut)
            } catch {
                // The file keeps its previous content (written atomically); the next exchange tries again.
                logger.error("peer \(runtime.label): the \(kind == .stale ? "replacement" : "exchanged") key could not be written to key_out \(keyOut), which keeps its previous content: \(error)")
                succeeded = false
            }
            if succeeded {
                do {
                    try Self.printLine(KeyOutputLine.format(peerID: runtime.peerID, keyFile: keyOut, event: kind))
                } catch {
                    logger.error("peer \(runtime.label): \(error)")
                    succeeded = false
                }
            }
        }
        if let wireGuard = runtime.wireGuard, let broker {
            let psk = key.withUnsafeBytes { PresharedKey(copying: $0) }!
            do {
                try broker.setPresharedKey(psk, peer: wireGuard.peer, interface: wireGuard.interface)
            } catch {
                logger.error("peer \(runtime.label): cannot hand the key to the PSK broker: \(error)")
            }
        }
        if let wireGuardCommand, wireGuardCommand.handles(peer.index) {
            log(key.withUnsafeBytes { wireGuardCommand.setPresharedKey($0, peer: peer.index, label: runtime.label, at: time) })
        }
        return succeeded
    }

    /// The whitepaper's WireGuard extension (`docs/protocol.md` §5.5): until the first exchange, WireGuard
    /// holds a random PSK rather than whatever an earlier run left behind. For peers with
    /// `extra_params`, this first `wg set` also creates the WireGuard peer.
    private func eraseWireGuardKeysAtStart() {
        for runtime in peers where !runtime.isRemoved { eraseWireGuardKey(of: runtime) }
    }

    /// Hands WireGuard a random pre-shared key for `runtime`'s peer.
    func eraseWireGuardKey(of runtime: PeerRuntime) {
        if let wireGuard = runtime.wireGuard, let broker {
            do {
                try broker.setPresharedKey(PresharedKey.random(), peer: wireGuard.peer, interface: wireGuard.interface)
            } catch {
                logger.error("peer \(runtime.label): cannot hand a key to the PSK broker: \(error)")
            }
        }
        if let wireGuardCommand, wireGuardCommand.handles(runtime.index) {
            let random = SecretBytes.random(count: 32)
            log(random.withUnsafeBytes { wireGuardCommand.setPresharedKey($0, peer: runtime.index, label: runtime.label, at: now()) })
        }
    }

    /// Writes one line to stdout in a single `write`, so lines never interleave and reach a pipe
    /// at once (the reference flushes after each line).
    private static func printLine(_ line: String) throws(AppError) {
        var bytes = Array(line.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeMutableBytes { write(STDOUT_FILENO, $0.baseAddress! + written, $0.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                throw .system("write", "stdout", errno: errno)
            }
            written += result
        }
        bytes.removeAll()
    }

    /// Ten failed iterations in a row end the daemon; between them it backs off 0.01 s × 2^(n−1).
    private func countErrors(_ failed: Bool) throws(AppError) {
        guard failed else {
            consecutiveErrors = 0
            return
        }
        consecutiveErrors += 1
        if consecutiveErrors >= 10 {
            throw .runtime("giving up after \(consecutiveErrors) failed event-loop iterations in a row")
        }
        let delay = 0.01 * Double(1 << (consecutiveErrors - 1))
        usleep(UInt32(delay * 1_000_000))
    }
}

/// The PSK broker client's reports, counted for status and metrics. The client's thread writes, the
/// daemon's loop reads.
final class BrokerCounters: Sendable {
    private struct Counts {
        var connected = false
        var delivered = 0
        var failed = 0
    }

    private let counts = Mutex(Counts())

    func record(_ event: PSKBrokerClientEvent) {
        counts.withLock { counts in
            switch event {
            case .connected: counts.connected = true
            case .disconnected, .unrecoverable: counts.connected = false
            case .delivered: counts.delivered += 1
            case .failed: counts.failed += 1
            }
        }
    }

    var snapshot: (connected: Bool, delivered: Int, failed: Int) {
        counts.withLock { ($0.connected, $0.delivered, $0.failed) }
    }
}
