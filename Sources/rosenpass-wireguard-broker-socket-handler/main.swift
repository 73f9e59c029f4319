// rosenpass-wireguard-broker-socket-handler: serves the broker protocol on a unix socket to many
// clients through one privileged child (docs/components.md §2.2). A thin shell over RosenpassBroker.

import ArgumentParser
import Glibc
import Logging
import RosenpassBroker
import RosenpassSocketHandler
import RosenpassSecureMemory
import RosenpassSystem
import Synchronization

/// The handler's stop fd, for the signal handler (a C function cannot capture context).
private let stopDescriptor = Atomic<Int32>(-1)

struct SocketHandlerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rosenpass-wireguard-broker-socket-handler",
        abstract: "Serve the Rosenpass PSK broker protocol on a unix socket, through one privileged broker process.",
        discussion: """
            Exactly one of --listen-path, --listen-fd and --stream-fd. The broker command comes after '--' \
            (default: rosenpass-wireguard-broker-privileged from PATH); --allow-interface, --allow-peer, \
            --policy, --max-key-age and --random-psk-at-start are appended to its arguments; with \
            --max-key-age, a restarted broker also gets the remaining fail-closed time of every key that \
            went through this handler. A socket \
            created with --listen-path is owner-only (0600) unless --mode/--group say otherwise; a stale \
            socket left by a dead handler is replaced, a live one or any other file is not. A broker \
            process that dies is restarted.
            """,
        version: SwiftRosenpassVersion.description
    )

    @Option(name: .customLong("listen-path"), help: "Create and listen on a unix socket at PATH.")
    var listenPath: String?

    @Option(name: .customLong("listen-fd"), help: "Listen on this inherited, listening unix socket.")
    var listenFD: Int32?

    @Option(name: .customLong("stream-fd"), help: "Serve this one inherited, connected unix socket; exit when it closes.")
    var streamFD: Int32?

    @Option(name: .customLong("mode"), help: "Permission bits of the --listen-path socket, octal.")
    var mode: String = "600"

    @Option(name: .customLong("group"), help: "Group (name or number) of the --listen-path socket.")
    var group: String?

    @Option(name: .customLong("allow-interface"), help: "Passed to the broker command (repeatable).")
    var allowInterface: [String] = []

    @Option(name: .customLong("allow-peer"), help: "Passed to the broker command: IF:PUBKEY_B64 (repeatable).")
    var allowPeer: [String] = []

    @Option(name: .customLong("policy"), help: "Passed to the broker command: a policy file.")
    var policy: String?

    @Option(name: .customLong("max-key-age"), help: "Passed to the broker command: seconds before a stale PSK is replaced by a random one.")
    var maxKeyAge: String?

    @Flag(name: .customLong("random-psk-at-start"), help: "Passed to the broker command.")
    var randomPskAtStart = false

    @Option(name: .customLong("max-clients"), help: "Clients served at once; at the limit a new one replaces the client that never sent a request, or else the one idle longest.")
    var maxClients = 256

    @Option(name: .customLong("idle-timeout"), help: "Seconds a client may stay connected without sending its first request.")
    var idleTimeout: Double = 120

    @Option(name: .customLong("frame-timeout"), help: "Seconds within which a request must be complete once its first byte arrived.")
    var frameTimeout: Double = 5

    @Argument(parsing: .postTerminator, help: "The broker command and its arguments, after '--'.")
    var command: [String] = []

    func validate() throws {
        let given = [listenPath != nil, listenFD != nil, streamFD != nil].filter { $0 }.count
        guard given == 1 else { throw ValidationError("give exactly one of --listen-path, --listen-fd and --stream-fd") }
        guard let bits = mode_t(mode, radix: 8), bits <= 0o777 else { throw ValidationError("--mode wants octal permission bits such as 600 or 660") }
        if let maxKeyAge, !((Double(maxKeyAge) ?? 0) > 0) {
            throw ValidationError("--max-key-age must be a positive number of seconds")
        }
        guard maxClients >= 1 else { throw ValidationError("--max-clients must be at least 1") }
        guard idleTimeout > 0, frameTimeout > 0 else { throw ValidationError("--idle-timeout and --frame-timeout must be positive numbers of seconds") }
        if listenPath == nil && (group != nil || mode != "600") {
            throw ValidationError("--mode and --group apply to --listen-path only")
        }
        _ = bits
    }

    func run() throws {
        SecureMemory.makeProcessUndumpable()  // it holds keys: no core dump, no ptrace by its own user
        BrokerLogging.bootstrap()
        POSIX.ignoreSIGPIPE()
        let logger = Logger(label: "rosenpass-wireguard-broker-socket-handler")
        var brokerCommand = command.isEmpty ? ["rosenpass-wireguard-broker-privileged"] : command
        for name in allowInterface { brokerCommand += ["--allow-interface", name] }
        for peer in allowPeer { brokerCommand += ["--allow-peer", peer] }
        if let policy { brokerCommand += ["--policy", policy] }
        if let maxKeyAge { brokerCommand += ["--max-key-age", maxKeyAge] }
        if randomPskAtStart { brokerCommand += ["--random-psk-at-start"] }

        let source: SocketHandlerSource
        if let listenPath {
            source = .listenPath(listenPath, mode: mode_t(mode, radix: 8)!, group: try group.map(resolveGroup))
        } else if let listenFD {
            source = .listenDescriptor(listenFD)
        } else {
            source = .streamDescriptor(streamFD!)
        }
        var configuration = SocketHandler.Configuration(source: source, command: brokerCommand)
        configuration.maxKeyAge = maxKeyAge.flatMap(Double.init)
        configuration.maximumClients = maxClients
        configuration.idleTimeout = idleTimeout
        configuration.frameTimeout = frameTimeout
        let handler = try SocketHandler(configuration: configuration, logger: logger)
        // The socket first: handing it to --group may take CAP_CHOWN (a handler run as root).
        do {
            try handler.open()
        } catch {
            logger.error("\(error)")
            throw ExitCode(1)
        }
        // The handler only frames requests; capabilities it was started with (CAP_NET_ADMIN from a
        // unit's AmbientCapabilities=) are for the privileged broker it starts, not for it.
        switch POSIX.clearEffectiveCapabilities() {
        case nil: logger.warning("could not clear this process's effective capabilities")
        case 0: break
        case let cleared?: logger.info("cleared effective capabilities 0x\(String(cleared, radix: 16)); the broker command still inherits its ambient ones")
        }
        stopDescriptor.store(handler.stopDescriptor, ordering: .sequentiallyConsistent)
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber) { _ in
                var byte: UInt8 = 1
                _ = write(stopDescriptor.load(ordering: .sequentiallyConsistent), &byte, 1)
            }
        }
        do {
            try handler.run()
        } catch {
            logger.error("\(error)")
            throw ExitCode(1)
        }
    }

    private func resolveGroup(_ name: String) throws -> gid_t {
        if let number = gid_t(name) { return number }
        guard let entry = getgrnam(name) else { throw ValidationError("no group named \(name)") }
        return entry.pointee.gr_gid
    }
}

SocketHandlerCommand.mainWithProjectExitStatus()
