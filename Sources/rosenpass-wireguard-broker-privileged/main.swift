// rosenpass-wireguard-broker-privileged: sets WireGuard preshared keys on request, nothing else.
// A thin shell over RosenpassBroker (docs/components.md §2.1); needs CAP_NET_ADMIN for kernel WireGuard.

import ArgumentParser
import Glibc
import Logging
import RosenpassBroker
import RosenpassSecureMemory
import RosenpassSystem

struct PrivilegedBrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rosenpass-wireguard-broker-privileged",
        abstract: "Set the preshared key of existing WireGuard peers, as asked by the Rosenpass broker protocol.",
        discussion: """
            Reads SetPsk requests (u64 little-endian length, 324-byte payload) on stdin and answers on \
            stdout, or both on the socket given with --fd. Kernel WireGuard is reached over generic netlink \
            (needs CAP_NET_ADMIN), userspace WireGuard (wireguard-go, boringtun) over \
            /var/run/wireguard/<interface>.sock (needs permission to open that socket). Peers are never \
            added; only the preshared key of an existing peer is overwritten. Requests outside the \
            allow-list are answered with InternalError (0x01) and logged. Every installed key is logged \
            (interface, peer, time), never the key itself.

            Policy file: one rule per line, '#' comments; "interface IF" allows every peer of IF, \
            "peer IF PUBKEY_B64" allows one peer.
            """,
        version: SwiftRosenpassVersion.description
    )

    @Option(name: .customLong("fd"), help: "Serve requests on this inherited, connected socket instead of stdin/stdout.")
    var fd: Int32?

    @Option(name: .customLong("allow-interface"), help: "Allow every existing peer of this interface (repeatable).")
    var allowInterface: [String] = []

    @Option(name: .customLong("allow-peer"), help: "Allow one peer: IF:PUBKEY_B64 (repeatable).")
    var allowPeer: [String] = []

    @Option(name: .customLong("policy"), help: "Read allow rules from this file.")
    var policy: String?

    @Option(name: .customLong("max-key-age"), help: "Fail closed: replace a peer's PSK with a random one when no fresh key arrives within SECONDS.")
    var maxKeyAge: Double?

    @Flag(name: .customLong("random-psk-at-start"), help: "Install a random PSK on every --allow-peer/policy peer at start-up.")
    var randomPskAtStart = false

    @Option(name: .customLong("carry-over-timer"),
            help: ArgumentHelp("IF:PUBKEY_B64:SECONDS: a fail-closed timer from a previous broker process (the socket handler passes these when it restarts the broker).", visibility: .hidden))
    var carryOverTimer: [String] = []

    func validate() throws {
        if let maxKeyAge, !(maxKeyAge > 0) { throw ValidationError("--max-key-age must be a positive number of seconds") }
        if let fd, fd < 0 { throw ValidationError("--fd must be a file descriptor number") }
    }

    func run() throws {
        SecureMemory.makeProcessUndumpable()  // it holds keys: no core dump, no ptrace by its own user
        BrokerLogging.bootstrap()
        POSIX.ignoreSIGPIPE()
        let logger = Logger(label: "rosenpass-wireguard-broker-privileged")
        var rules = BrokerPolicy()
        var carriedOver: [CarriedOverKeyTimer] = []
        do {
            carriedOver = try carryOverTimer.map(CarriedOverKeyTimer.init(parsing:))
            for name in allowInterface { try rules.allowInterface(name) }
            for peer in allowPeer { try rules.allowPeer(peer) }
            if let policy { try rules.addRules(fromFile: policy) }
        } catch {
            throw ValidationError("\(error)")
        }
        if randomPskAtStart && rules.peers.isEmpty {
            logger.warning("--random-psk-at-start has no effect without --allow-peer or policy peer rules")
        }
        logger.info("started; \(rules.summary)\(maxKeyAge.map { "; max key age \($0) s" } ?? "")")

        let broker = PrivilegedBroker(backend: AutomaticWireGuardBackend(), policy: rules, maxKeyAge: maxKeyAge, logger: logger)
        if !carriedOver.isEmpty { logger.info("carrying over \(carriedOver.count) fail-closed timer(s) from the previous broker process") }
        broker.start(randomizeAllowedPeers: randomPskAtStart, carriedOver: carriedOver)
        let input: Int32
        let output: Int32
        if let fd {
            let owned = try POSIX.claimInheritedDescriptor(fd)
            input = owned
            output = owned
        } else {
            input = STDIN_FILENO
            output = STDOUT_FILENO
        }
        do {
            try PrivilegedBrokerServer(broker: broker, input: input, output: output, logger: logger).run()
            logger.info("input closed; exiting")
        } catch {
            logger.error("\(error)")
            throw ExitCode(1)
        }
    }
}

PrivilegedBrokerCommand.mainWithProjectExitStatus()
