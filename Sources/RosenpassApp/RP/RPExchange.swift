// `rp exchange`: WireGuard and Rosenpass set up together (`docs/components.md` §8.3).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import RosenpassBroker
import RosenpassCrypto
import RosenpassProtocol

/// Runs `rp exchange`: creates and configures the WireGuard interface, runs the Rosenpass daemon
/// core with every exchanged key going to that interface, and removes the interface on SIGINT,
/// SIGTERM, SIGQUIT or SIGHUP (the terminal closed; unless `rp` was started with SIGHUP ignored, as
/// by `nohup`).
///
/// In order:
/// 1. check the options (``RPExchangePlan``) and load every key: `wgsk`, `pqsk`, `pqpk` from the
///    private folder; per peer `wgpk`, `pqpk` and, if present, `psk`;
/// 2. set up the daemon core (this binds the Rosenpass socket and takes over the signals, SIGHUP
///    included unless it was inherited as ignored, so a signal from here on ends `rp` cleanly);
/// 3. create the interface: kernel WireGuard over rtnetlink, or wireguard-go when the kernel has
///    none; private key, listen port = Rosenpass port + 1, and every peer with its endpoint
///    (port + 1), keepalive, allowed IPs and a random PSK; bring it up;
/// 4. add the `ip` address and a route per allowed-ips entry;
/// 5. run the daemon core, its PSKs going through the in-process broker (``RPInProcessBroker``);
/// 6. on a signal: stop, delete the interface (or stop wireguard-go), and say "rp: removed DEV"; if
///    the removal fails, that is the error (exit status 1) and nothing claims it was removed.
///
/// Fixed against the reference: peers exist in WireGuard from the start (the reference relied on
/// `wg set` creating them with the first key); addresses and routes are set over netlink and a
/// failure stops `rp` instead of being ignored; each `allowed-ips` entry gets its own route.
public enum RPExchange {
    /// Runs until a signal.
    ///
    /// - Parameters:
    ///   - options: what to set up.
    ///   - logger: for run-time messages (stderr).
    ///   - note: receives the one-line start-up and shutdown notes (stderr in `rp`).
    /// - Throws: ``AppError`` when something cannot be loaded or set up (nothing is left behind, or a
    ///   warning says what is), when wireguard-go dies while `rp` runs, or when the interface cannot
    ///   be removed at the end.
    public static func run(_ options: RPExchangeOptions, logger: Logger, note: (String) -> Void) throws(AppError) {
        let plan = try RPExchangePlan(options)
        for warning in plan.warnings { logger.warning("\(warning)") }
        let setup = try loadKeys(plan)
        for warning in setup.loaded.warnings { logger.warning("\(warning)") }

        let broker = try RPInProcessBroker()
        let daemon: Daemon
        do throws(AppError) {
            daemon = try Daemon(
                configuration: setup.configuration, loaded: setup.loaded, kems: StandardKEMs(),
                broker: plan.peers.isEmpty ? .none : .endpoint(broker.endpoint), logger: logger,
                stopSignals: Daemon.standardStopSignals + (hangUpIsIgnored() ? [] : [SIGHUP]))
        } catch {
            broker.finish()
            throw error
        }

        let interface: RPWireGuardInterface
        do throws(AppError) {
            interface = try RPWireGuardInterface.create(name: plan.device, settings: setup.wireGuard, warn: { logger.warning("\($0)") })
        } catch {
            broker.finish()
            throw error
        }
        var failure: AppError?
        do throws(AppError) {
            if let address = plan.address { try interface.addAddress(address) }
            for peer in plan.peers { try interface.addRoutes(peer.allowedIPs) }
            try broker.start(backend: interface.makeBackend(), policy: setup.policy, logger: logger)
            // Said once the interface is complete (address and routes too), so scripts can wait for it.
            let port = setup.wireGuard.listenPort.map { "WireGuard port \($0)" } ?? "WireGuard on a port of its own choosing"
            note("rp: \(plan.device) is up with \(interface.implementationDescription); \(port), Rosenpass on \(daemon.localAddresses.map(\.description).joined(separator: ", "))")
            if case .userspace(let process, _) = interface.implementation {
                process.onUnexpectedExit = { description in
                    logger.error("\(description) while rp was running; stopping")
                    kill(getpid(), SIGTERM)
                }
                if let exit = process.unexpectedExit { throw AppError.runtime("\(exit) while rp was starting") }
            }
            try daemon.run()
        } catch {
            failure = error
        }

        broker.finish()
        var removal: AppError?
        do throws(AppError) {
            try interface.remove()
        } catch {
            removal = error
        }
        if case .userspace(let process, _) = interface.implementation, let exit = process.unexpectedExit, failure == nil {
            failure = .runtime("\(exit) while rp was running; \(plan.device) is gone")
        }
        // The daemon (its keys, its signal handlers) lives until the interface is gone.
        withExtendedLifetime(daemon) {}
        try conclude(device: plan.device, failure: failure, removal: removal, note: note)
    }

    /// The end of `rp exchange`, once the interface's removal was attempted: "rp: removed DEV" only
    /// when it worked; a failed removal is an error (so a non-zero exit status), added to any
    /// earlier one.
    static func conclude(device: String, failure: AppError?, removal: AppError?, note: (String) -> Void) throws(AppError) {
        guard let removal else {
            note("rp: removed \(device)")
            if let failure { throw failure }
            return
        }
        guard let failure else { throw removal }
        throw .runtime("\(failure); then \(removal)")
    }

    /// Everything loaded from the key folders.
    struct Setup {
        /// The daemon core's configuration: our key pair, listen address, and per peer its static
        /// key, endpoint, PSK and WireGuard target.
        var configuration: Configuration
        /// That configuration with its files loaded.
        var loaded: LoadedConfiguration
        /// The interface's configuration.
        var wireGuard: WireGuardInterfaceSettings
        /// The broker's allow-list: our interface, our peers.
        var policy: BrokerPolicy
    }

    /// Loads every key the plan names.
    static func loadKeys(_ plan: RPExchangePlan) throws(AppError) -> Setup {
        let join = RPKeyFolders.join
        let secret = try RPKeyFolders.loadWireGuardSecretKey(join(plan.privateKeysDir, RPKeyFolders.wireGuardSecretKey))
        var configuration = Configuration(
            publicKeyPath: join(plan.privateKeysDir, RPKeyFolders.staticPublicKey),
            secretKeyPath: join(plan.privateKeysDir, RPKeyFolders.staticSecretKey),
            listen: plan.listen.map { [$0.description] } ?? [],
            verbosity: plan.verbose ? .verbose : .quiet)
        var wireGuard = WireGuardInterfaceSettings(privateKey: secret, listenPort: plan.wireGuardListenPort, peers: [])
        var policy = BrokerPolicy()
        var folderOf = [WireGuardPublicKey: String]()
        let ownPublicKey = try WireGuardKeys.publicKey(of: secret)

        for peer in plan.peers {
            let publicKey = try RPKeyFolders.loadWireGuardPublicKey(join(peer.publicKeysDir, RPKeyFolders.wireGuardPublicKey))
            if let other = folderOf[publicKey] {
                throw .runtime("the peers \(other) and \(peer.publicKeysDir) have the same WireGuard public key (\(publicKey))")
            }
            if publicKey == ownPublicKey {
                throw .runtime("the peer \(peer.publicKeysDir) has our own WireGuard public key; give it the peer's public folder (rp pubkey on the peer)")
            }
            folderOf[publicKey] = peer.publicKeysDir
            let pskPath = join(peer.publicKeysDir, RPKeyFolders.presharedKey)
            configuration.peers.append(
                PeerSettings(
                    publicKeyPath: join(peer.publicKeysDir, RPKeyFolders.staticPublicKey),
                    endpoint: peer.rosenpassEndpoint?.description,
                    presharedKeyPath: FileIO.exists(pskPath) ? pskPath : nil,
                    wireGuard: WireGuardTarget(device: plan.device, peer: publicKey.base64),
                    protocolVersion: peer.protocolVersion))
            wireGuard.peers.append(
                .init(
                    publicKey: publicKey, presharedKey: PresharedKey.random(), endpoint: peer.wireGuardEndpoint,
                    persistentKeepalive: peer.persistentKeepalive, allowedIPs: peer.allowedIPs))
            do {
                try policy.allowPeer(interface: plan.device, publicKey: publicKey.base64)
            } catch {
                throw .runtime("\(error)")
            }
        }
        let loaded = try configuration.load()
        return Setup(configuration: configuration, loaded: loaded, wireGuard: wireGuard, policy: policy)
    }
}

/// Whether SIGHUP is ignored, as `nohup` leaves it. Otherwise `rp exchange` ends on it like on SIGTERM:
/// closing its terminal removes the interface and stops wireguard-go (which runs in a process group
/// of its own, so the hang-up never reaches it) instead of killing `rp` and leaving both behind.
private func hangUpIsIgnored() -> Bool {
    var current = sigaction()
    sigaction(SIGHUP, nil, &current)
    guard let handler = current.__sigaction_handler.sa_handler else { return false }
    return unsafeBitCast(handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
}
