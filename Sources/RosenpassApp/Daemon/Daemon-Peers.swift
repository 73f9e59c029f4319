// Peers coming and going while the daemon runs: start-up, and `rosenpass reload` / SIGHUP
// (docs/control-socket.md, "Reloading").

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassBroker
import RosenpassProtocol

/// A peer whose configuration was checked against what this daemon can do, ready to be added.
struct PreparedPeer {
    /// The WireGuard peer its keys go to through the PSK broker.
    var brokerTarget: (interface: String, peer: WireGuardPublicKey)?
    /// Or the `wg set` target, for a peer with `extra_params` when the daemon runs `wg`.
    var commandTarget: WireGuardCommand.Target?
}

extension Daemon {
    /// What a reload did.
    struct ReloadResult {
        var succeeded: Bool
        var message: String
    }

    /// The core's view of a configured peer.
    static func coreConfiguration(_ peer: LoadedPeer) -> PeerConfiguration {
        PeerConfiguration(
            publicKey: peer.publicKey, presharedKey: peer.presharedKey, version: peer.settings.protocolVersion,
            outputKeySeparator: peer.settings.outputKeySeparator ?? .wireGuardPSK,
            initiatorVariant: peer.settings.mcelieceVariant, initiates: !peer.endpointAddresses.isEmpty)
    }

    /// Checks what adding `peer` needs from this daemon, without changing anything.
    ///
    /// - Parameter whileRunning: a reload: a WireGuard peer then needs the PSK broker (or `wg`) that
    ///   the daemon started with; one that started without any cannot gain one without a restart.
    func prepare(_ peer: LoadedPeer, whileRunning: Bool) throws(AppError) -> PreparedPeer {
        var prepared = PreparedPeer()
        guard let target = peer.settings.wireGuard else { return prepared }
        guard let key = WireGuardPublicKey(base64: target.peer) else {
            throw .runtime("'\(target.peer)' is not a WireGuard public key")
        }
        if wireGuardExecutable != nil && !target.extraParams.isEmpty {
            prepared.commandTarget = .init(device: target.device, peerKey: target.peer, extraParams: target.extraParams)
        } else {
            if whileRunning && broker == nil {
                throw .runtime(
                    "it has a WireGuard device, but this daemon started without a PSK broker (no peer had one then); restart rosenpass to add it")
            }
            prepared.brokerTarget = (target.device, key)
        }
        return prepared
    }

    /// Adds a prepared peer to the core, the monitor and the address index. During a run, WireGuard
    /// gets a random key for it at once, as at start-up.
    func add(_ peer: LoadedPeer, _ prepared: PreparedPeer, at time: Seconds) throws(AppError) {
        let index = peers.count
        let settings = peer.settings
        let handle: PeerHandle
        do {
            handle = try server.addPeer(Self.coreConfiguration(peer))
        } catch {
            throw .runtime("peer \(index): \(error)")
        }
        precondition(handle.index == index, "the daemon's peer list and the core's are out of step")
        let label = PeerLabel(
            name: settings.name, endpoint: settings.endpoint,
            wireGuard: settings.wireGuard.map { .init(device: $0.device, peerKey: $0.peer) },
            peerID: server.peerID(of: handle).base64)
        peers.append(
            PeerRuntime(
                handle: handle, index: index, settings: settings, peerID: label.peerID, label: label, keyOut: settings.keyOut,
                wireGuard: prepared.brokerTarget, endpoint: settings.endpoint.flatMap(HostAndPort.init),
                configuredAddresses: peer.endpointAddresses))
        monitor.add(
            PeerMonitor.PeerInfo(
                label: label, initiates: !peer.endpointAddresses.isEmpty, version: settings.protocolVersion,
                configuredVariant: settings.mcelieceVariant),
            now: time)
        if let target = prepared.commandTarget, let executable = wireGuardExecutable {
            if wireGuardCommand == nil { wireGuardCommand = WireGuardCommand(executable: executable, targets: [:]) }
            wireGuardCommand!.add(target, peer: index)
        }
        indexAddresses(of: index)
        if time > 0 { eraseWireGuardKey(of: peers[index]) }
    }

    /// Takes a peer out: fail closed. Its `key_out` gets a random key (with a `stale` line on stdout)
    /// and WireGuard a random pre-shared key, so nothing keeps using its last exchanged key; then the
    /// core forgets its sessions and the monitor stops watching it.
    func removePeer(_ index: Int, at time: Seconds) {
        guard peers.indices.contains(index), !peers[index].isRemoved else { return }
        _ = deliver(.keyStale(peer: peers[index].handle), at: time, removing: true)
        try? server.removePeer(peers[index].handle)
        peers[index].isRemoved = true
        monitor.remove(index)
        for (address, owner) in peerByAddress where owner == index { peerByAddress[address] = nil }
    }

    /// Reads the configuration file again and applies what changed in the peers: added peers start,
    /// removed ones stop (fail closed, ``removePeer(_:at:)``), changed ones are removed and added
    /// again, and unchanged ones keep their sessions and timers as they are. A configuration that
    /// does not load changes nothing. Changes outside the peers (keys, `listen`, brokers, sockets,
    /// logging) take effect at the next start; the result says which.
    func reload(at time: Seconds) -> ReloadResult {
        guard let file = configurationFile else {
            return ReloadResult(
                succeeded: false, message: "this daemon was started from `rosenpass exchange` words, not a configuration file: there is nothing to read again")
        }
        let fresh: Configuration
        let loaded: LoadedConfiguration
        do {
            fresh = try Configuration.load(file: file, home: Environment.home)
            loaded = try fresh.load()
        } catch {
            logger.error("reload: \(error); nothing was changed")
            return ReloadResult(succeeded: false, message: "\(error); nothing was changed")
        }

        // Match the new entries with the running peers: same entry, same keys, same core settings.
        var running = [String: [Int]]()
        for runtime in peers where !runtime.isRemoved { running[runtime.settings.publicKeyPath, default: []].append(runtime.index) }
        var kept = Set<Int>()
        var additions = [LoadedPeer]()
        for peer in loaded.peers {
            let candidates = running[peer.settings.publicKeyPath] ?? []
            if let match = candidates.first(where: {
                !kept.contains($0) && peers[$0].settings == peer.settings && server.matches(peers[$0].handle, Self.coreConfiguration(peer))
            }) {
                kept.insert(match)
            } else {
                additions.append(peer)
            }
        }
        let removals = peers.indices.filter { !peers[$0].isRemoved && !kept.contains($0) }

        // Check every addition before changing anything.
        var prepared = [PreparedPeer]()
        for peer in additions {
            do {
                prepared.append(try prepare(peer, whileRunning: true))
            } catch {
                let name = peer.settings.name.map { "peer \"\($0)\"" } ?? "the peer with public_key \(peer.settings.publicKeyPath)"
                logger.error("reload: \(name): \(error); nothing was changed")
                return ReloadResult(succeeded: false, message: "\(name): \(error); nothing was changed")
            }
        }

        let replacedPaths = Set(additions.map(\.settings.publicKeyPath))
        // A peer whose entry changed is removed and added again: "changed", not "removed" and "added".
        let changedPaths = Set(removals.map { peers[$0].settings.publicKeyPath }).intersection(replacedPaths)
        var removedNames = [String]()
        var changedNames = [String]()
        for index in removals {
            if changedPaths.contains(peers[index].settings.publicKeyPath) {
                changedNames.append("\(peers[index].label)")
            } else {
                removedNames.append("\(peers[index].label)")
            }
            removePeer(index, at: time)
        }
        let firstAdded = peers.count
        for (peer, preparation) in zip(additions, prepared) {
            do {
                try add(peer, preparation, at: time)
            } catch {
                // Only the core can refuse here (everything else was checked above); the peers
                // before this one stay applied.
                logger.error("reload: \(error)")
                return ReloadResult(succeeded: false, message: "\(error); the peers before it were applied")
            }
        }
        let addedNames = peers[firstAdded...].filter { !changedPaths.contains($0.settings.publicKeyPath) }.map { "\($0.label)" }

        let restart = settingsNeedingRestart(fresh, loaded)
        for warning in loaded.warnings { logger.warning("reload: \(warning)") }
        var summary =
            "configuration reloaded from \(file): \(kept.count) peer\(kept.count == 1 ? "" : "s") unchanged, \(addedNames.count) added, \(removedNames.count) removed, \(changedNames.count) changed"
        for (what, names) in [("added", addedNames), ("removed", removedNames), ("changed, started afresh", changedNames)] where !names.isEmpty {
            summary += "; \(what): \(names.joined(separator: ", "))"
        }
        if !restart.isEmpty {
            summary += ". Not applied until rosenpass restarts: \(restart.joined(separator: ", ")) changed"
        }
        logger.notice("\(summary)")
        return ReloadResult(succeeded: true, message: summary)
    }

    /// The settings outside the peers that differ from the ones the daemon started with.
    private func settingsNeedingRestart(_ fresh: Configuration, _ loaded: LoadedConfiguration) -> [String] {
        let old = startConfiguration
        var changed = [String]()
        if fresh.publicKeyPath != old.publicKeyPath || fresh.secretKeyPath != old.secretKeyPath
            || loaded.keypair?.publicKey != server.publicKey
        {
            changed.append("our key pair (public_key, secret_key)")
        }
        if fresh.listen != old.listen { changed.append("listen") }
        if fresh.pskBroker != old.pskBroker { changed.append("psk_broker") }
        if fresh.controlSocket != old.controlSocket || fresh.controlSocketGroup != old.controlSocketGroup {
            changed.append("control_socket")
        }
        if fresh.metricsListen != old.metricsListen { changed.append("metrics_listen") }
        if fresh.logFormat != old.logFormat { changed.append("log_format") }
        if fresh.verbosity != old.verbosity { changed.append("verbosity") }
        return changed
    }
}
