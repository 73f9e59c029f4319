// `exchange-config`, `exchange` and `validate` (`docs/components.md` §3.2, §3.3, §4.3).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ArgumentParser
import Logging
import RosenpassBroker
import RosenpassBrokerClient
import RosenpassProtocol

/// `rosenpass exchange-config FILE`.
struct ExchangeConfigCommand: ParsableCommand, RootOptionsReading {
    @ParentCommand var root: RosenpassCommand

    static let configuration = CommandConfiguration(
        commandName: "exchange-config",
        abstract: "Start Rosenpass key exchanges based on a configuration file.",
        discussion: """
            Loads and checks FILE (see `rosenpass gen-config`), then runs until SIGINT, SIGTERM or SIGQUIT. \
            For each peer with key_out, every new key is written there (base64, mode 0600) and announced \
            on stdout as: output-key peer PEER_ID key-file "PATH" exchanged (or stale, when a key expired \
            and was replaced by a random one). Peers with device and peer get their key in WireGuard \
            through the PSK broker.

            Many peers (docs/scaling.md): a daemon serves 10,000 peers in well under 1 GiB. It keeps no \
            peer's public key in memory: each key file is read at start-up to compute the peer id, and \
            again whenever a handshake needs it, so a key file must stay in place; one rewritten with \
            another key is refused (a warning, and retries every 10 s) until `rosenpass reload`. With \
            more than 16 peers, the first handshakes are spread over 5 ms per peer (at most 60 s), and \
            the budget of InitHellos answered before DoS cookies are asked for grows by 1/30 a second per peer.
            """
    )

    @Argument(help: ArgumentHelp("The configuration file.", valueName: "FILE"))
    var configFile: String

    func run() throws {
        let configuration = try Configuration.load(file: configFile, home: Environment.home)
        try DaemonLauncher.run(configuration, root: root, file: configFile)
    }
}

/// `rosenpass exchange [-c FILE] WORDS…`, the reference's legacy grammar.
struct ExchangeCommand: ParsableCommand, RootOptionsReading {
    @ParentCommand var root: RosenpassCommand

    static let configuration = CommandConfiguration(
        commandName: "exchange",
        abstract: "Start Rosenpass key exchanges with the configuration given as words.",
        discussion: """
            The configuration is written as words (the reference's legacy syntax):

              WORDS := OWN PEER...
              OWN := public-key FILE secret-key FILE [listen ADDR]... [verbose]
              PEER := peer public-key FILE [ENDPOINT] [PSK] [OUTFILE] [WG]
              ENDPOINT := endpoint HOST:PORT
              PSK := preshared-key FILE
              OUTFILE := outfile FILE
              WG := wireguard DEVICE WG_PEER_PUBLIC_KEY [EXTRA_PARAMS]...

            ADDR and HOST:PORT may be host names; a listen address is bound at every address it resolves \
            to. wireguard must come last in its peer: every word after it up to the next `peer` is an extra \
            parameter. With -c, the configuration is also written to FILE as TOML, for exchange-config.

            Example: rosenpass exchange public-key pk secret-key sk listen [::]:9999 peer public-key peer-pk \
            endpoint peer.example:9999 outfile peer.key
            """
    )

    @Option(name: [.customShort("c"), .customLong("config-file")], help: ArgumentHelp("Also write the configuration to FILE as TOML.", valueName: "FILE"))
    var configFile: String?

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("The configuration, as described above.", valueName: "WORDS"))
    var words: [String] = []

    func run() throws {
        let (configuration, warnings) = try LegacyExchangeArguments.parse(words)
        let logger = AppLogging.logger(level: DaemonLauncher.logLevel(configuration, root: root))
        for warning in warnings { logger.warning("\(warning)") }
        if let configFile {
            let bytes = Array(configuration.tomlText.utf8)
            try withAppErrors { try bytes.withUnsafeBytes { raw in try FileIO.writeAtomically(configFile, bytes: raw, mode: 0o644) } }
        }
        try DaemonLauncher.run(configuration, root: root)
    }
}

/// `rosenpass validate FILE…`.
struct ValidateCommand: ParsableCommand, RootOptionsReading {
    @ParentCommand var root: RosenpassCommand

    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check configuration files, including the key files they name.",
        discussion: """
            For each FILE, reports on stderr whether it is valid TOML of the expected schema and whether it \
            passes the logical checks (key files load, endpoints resolve, each peer has an output). Exits \
            with status 1 if any file has a problem.
            """
    )

    @Argument(help: ArgumentHelp("The configuration files to check.", valueName: "FILE"))
    var configFiles: [String] = []

    func run() throws {
        var allValid = true
        for file in configFiles {
            let quoted = KeyOutputLine.rustDebugQuoted(file)
            let configuration: Configuration
            do {
                configuration = try Configuration.load(file: file, home: Environment.home)
            } catch {
                RosenpassCLI.printError("\(quoted) is not valid: \(error)")
                allValid = false
                continue
            }
            RosenpassCLI.printError("\(quoted) is valid TOML and conforms to the expected schema")
            do {
                let loaded = try configuration.load()
                for warning in loaded.warnings { RosenpassCLI.printError("\(quoted): warning: \(warning)") }
                for note in Self.notes(configuration, loaded) { RosenpassCLI.printError("\(quoted): note: \(note)") }
                RosenpassCLI.printError("\(quoted) has passed all logical checks")
            } catch {
                RosenpassCLI.printError("\(quoted) contains logical errors: '\(error)'")
                allValid = false
            }
        }
        if !allValid { throw ExitCode(1) }
    }

    /// What a valid configuration will do that an operator may not expect: the secret key's layout
    /// and the McEliece format each peer gets, and `wg set` for `extra_params`. A note that applies
    /// to several peers is printed once, naming them (a gateway's 10,000 peers give one line).
    static func notes(_ configuration: Configuration, _ loaded: LoadedConfiguration) -> [String] {
        var notes = [String]()
        if let keypair = loaded.keypair {
            notes.append(
                "secret key: \(SecretKeyLayout.describe(keypair.variant)). It serves both McEliece formats; each peer's is chosen separately")
        }
        var peersByNote: [String: [String]] = [:]
        var order: [String] = []
        func add(_ note: String, _ name: String) {
            if peersByNote[note] == nil { order.append(note) }
            peersByNote[note, default: []].append(name)
        }
        for (index, peer) in configuration.peers.enumerated() {
            let name = peer.name.map { "peer \(index) (\($0))" } ?? "peer \(index)"
            if let variant = peer.mcelieceVariant {
                add("our handshakes use McEliece \(variant.shortName) (mceliece_variant)", name)
            } else if peer.endpoint != nil {
                add(
                    "our handshakes use McEliece round 3 (Rosenpass 0.2.x, go-rosenpass, the reference), alternating with round 4 until the peer answers, then the peer's format",
                    name)
            }
            if let wireGuard = peer.wireGuard, !wireGuard.extraParams.isEmpty {
                add(
                    "extra_params: without a PSK broker option, rosenpass runs `wg set \(wireGuard.device) peer … preshared-key /dev/stdin \(wireGuard.extraParams.joined(separator: " "))` itself (needs wg and CAP_NET_ADMIN); a PSK broker ignores them",
                    name)
            }
        }
        for note in order {
            let names = peersByNote[note]!
            notes.append("\(Self.peerList(names)): \(note)")
        }
        return notes
    }

    /// "peer 3"; "peer 1, peer 2"; or the first eight of many and how many more.
    static func peerList(_ names: [String]) -> String {
        let shown = names.prefix(8).joined(separator: ", ")
        return names.count > 8 ? "\(shown) and \(names.count - 8) more" : shown
    }
}

/// Starting the daemon from a configuration, for `exchange` and `exchange-config`.
enum DaemonLauncher {
    /// - Parameter file: the configuration file, which `rosenpass reload` and SIGHUP read again.
    static func run(_ configuration: Configuration, root: RosenpassCommand, file: String? = nil) throws(AppError) {
        let logger = AppLogging.logger(level: logLevel(configuration, root: root), format: configuration.logFormat)

        try configuration.checkUsefulness()
        let loaded = try configuration.load()
        for warning in loaded.warnings { logger.warning("\(warning)") }
        let command = try wireGuardCommand(configuration, root: root, logger: logger)
        let broker = try brokerChoice(configuration, root: root, logger: logger, wireGuardCommand: command)
        // The daemon (and with it every key it holds) is released before this returns.
        let daemon = try Daemon(
            configuration: configuration, loaded: loaded, kems: StandardKEMs(), broker: broker, wireGuardCommand: command, logger: logger,
            configurationFile: file)
        try daemon.run()
    }

    /// The log level: `--log-level`, `-v`, `-q` or `RUST_LOG` when given; otherwise info with
    /// `verbosity = "Verbose"` and notice without (start-up, every key, and anything worse).
    static func logLevel(_ configuration: Configuration, root: RosenpassCommand) -> Logger.Level {
        if let explicit = root.explicitLogLevel { return explicit }
        return configuration.verbosity == .verbose ? .info : .notice
    }

    /// Whether any PSK broker option or `psk_broker` was given.
    static func brokerChosenExplicitly(_ configuration: Configuration, root: RosenpassCommand) -> Bool {
        root.pskBroker != nil || root.pskBrokerPath != nil || root.pskBrokerFD != nil || root.pskBrokerSpawn || configuration.pskBroker != nil
    }

    /// `wg` for peers with `extra_params`, which the reference applies by running
    /// `wg set DEVICE peer KEY preshared-key /dev/stdin EXTRA_PARAMS…` (its default broker). With a
    /// PSK broker chosen explicitly they are ignored, as the reference ignores them with a socket
    /// broker: the broker only sets the pre-shared key of an existing peer.
    ///
    /// - Throws: ``AppError`` when a peer needs `wg` and it is not in `PATH`.
    static func wireGuardCommand(_ configuration: Configuration, root: RosenpassCommand, logger: Logger) throws(AppError) -> String? {
        let indices = configuration.peers.indices.filter { configuration.peers[$0].wireGuard?.extraParams.isEmpty == false }
        guard !indices.isEmpty else { return nil }
        let list = indices.map { "peer \($0)" }.joined(separator: ", ")
        if brokerChosenExplicitly(configuration, root: root) {
            logger.warning(
                "\(list): extra_params are ignored: the PSK broker only sets the pre-shared key of an existing WireGuard peer (without a broker option, rosenpass runs `wg set` with them, as the reference does)")
            return nil
        }
        guard let wg = WireGuardCommand.locate() else {
            throw .runtime(
                "\(list) \(indices.count == 1 ? "has" : "have") extra_params, which rosenpass applies by running `wg set` as the reference does, but `wg` is not in PATH: install wireguard-tools, or remove extra_params and create the WireGuard peer beforehand (then the PSK broker sets its key)")
        }
        logger.notice(
            "\(list): keys go to WireGuard through `\(wg) set … preshared-key /dev/stdin \(configuration.peers[indices[0]].wireGuard!.extraParams.joined(separator: " "))\(indices.count > 1 ? " …" : "")`, as the reference does; this needs CAP_NET_ADMIN in rosenpass itself, not only in the PSK broker")
        return wg
    }

    /// The PSK broker for peers with a WireGuard target: `--psk-broker`/`--psk-broker-path`,
    /// `--psk-broker-fd`, `--psk-broker-spawn` (the socket handler, over a socket pair), the config's
    /// `psk_broker`, or by default the privileged broker spawned by the daemon over pipes. Peers
    /// whose keys go through `wg set` (`wireGuardCommand`) need none.
    static func brokerChoice(
        _ configuration: Configuration, root: RosenpassCommand, logger: Logger, wireGuardCommand: String? = nil
    ) throws(AppError) -> BrokerChoice {
        let needsBroker = configuration.peers.contains { peer in
            guard let target = peer.wireGuard else { return false }
            return wireGuardCommand == nil || target.extraParams.isEmpty
        }
        guard needsBroker else {
            if brokerChosenExplicitly(configuration, root: root) {
                logger.info("no peer has a WireGuard device; the PSK broker is not used")
            }
            return .none
        }
        if let path = root.pskBroker ?? root.pskBrokerPath { return .endpoint(.socketPath(path)) }
        if let fd = root.pskBrokerFD { return .endpoint(.inheritedDescriptor(fd)) }
        if root.pskBrokerSpawn { return .endpoint(socketHandlerEndpoint()) }
        if let path = configuration.pskBroker { return .endpoint(.socketPath(path)) }
        return .endpoint(privilegedBrokerEndpoint())
    }

    /// The default: `rosenpass-wireguard-broker-privileged`, spawned by the daemon and reached over its
    /// stdin and stdout. It alone needs `CAP_NET_ADMIN`, and no unix socket is involved, so the daemon
    /// also runs under the reference's systemd unit, which allows no `AF_UNIX` (docs/components.md §2.4).
    /// The one installed next to this executable if there is one (so a build folder or an install
    /// prefix is self-contained), otherwise the one in `PATH`.
    static func privilegedBrokerEndpoint() -> PSKBrokerEndpoint {
        let privileged = "rosenpass-wireguard-broker-privileged"
        if let directory = executableDirectory(), access(directory + privileged, X_OK) == 0 {
            return .spawnBroker(executable: directory + privileged, arguments: [])
        }
        return .spawnBroker(executable: privileged, arguments: [])
    }

    /// `--psk-broker-spawn`: the socket handler on a socket pair, which runs the privileged broker (the
    /// reference's spawn mode). Both from next to this executable if they are there, otherwise from `PATH`.
    static func socketHandlerEndpoint() -> PSKBrokerEndpoint {
        let handler = "rosenpass-wireguard-broker-socket-handler"
        let privileged = "rosenpass-wireguard-broker-privileged"
        guard let directory = executableDirectory(), access(directory + handler, X_OK) == 0 else {
            return .defaultSpawn
        }
        let arguments = access(directory + privileged, X_OK) == 0 ? ["--", directory + privileged] : []
        return .spawn(executable: directory + handler, arguments: arguments)
    }

    /// The folder of the running executable, with a trailing slash.
    static func executableDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let path = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return FileIO.split(path).0
    }
}
