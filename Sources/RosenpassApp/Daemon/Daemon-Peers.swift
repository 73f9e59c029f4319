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
            key: peer.publicKey, presharedKey: peer.presharedKey,
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
        if let target = prepared.brokerTarget { allowInDefaultBroker(PeerOnInterface(interface: target.0, peer: target.1)) }
        if time > 0 { eraseWireGuardKey(of: peers[index]) }
    }

    /// The daemon's default broker (the privileged broker it spawns) runs with an allow-list of the
    /// WireGuard peers configured since start: `--allow-peer IF:KEY` for each, or `--allow-interface
    /// IF` for their interfaces once there are more than ``defaultBrokerPeerLimit`` (the command line
    /// stays short). A peer taken out by a reload stays on it, so that the random key it gets on its
    /// way out still passes. A broker the daemon did not spawn has an allow-list of its own.
    func allowInDefaultBroker(_ pair: PeerOnInterface) {
        guard let broker, case .spawnBroker = broker.endpoint, defaultBrokerAllowList.pairs.insert(pair).inserted else { return }
        if defaultBrokerAllowList.order.count <= Self.defaultBrokerPeerLimit { defaultBrokerAllowList.order.append(pair) }
        if !defaultBrokerAllowList.interfaces.contains(pair.interface) { defaultBrokerAllowList.interfaces.append(pair.interface) }
        let arguments = defaultBrokerAllowList.pairs.count <= Self.defaultBrokerPeerLimit
            ? defaultBrokerAllowList.order.flatMap { ["--allow-peer", "\($0.interface):\($0.peer.base64)"] }
            : defaultBrokerAllowList.interfaces.flatMap { ["--allow-interface", $0] }
        broker.setBrokerArguments(arguments)
    }

    /// Above this many peers the default broker is allow-listed by interface rather than by peer.
    static let defaultBrokerPeerLimit = 256

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

// MARK: - `rosenpass peer add|remove`

extension Daemon {
    /// Adds the peer whose `[[peers]]` keys are `toml`; with `persist`, also appends the entry to the
    /// configuration file (so that a reload keeps it). Without `persist`, the next reload removes it.
    func addPeer(toml: String, persist: Bool, at time: Seconds, requestedBy who: String) -> ReloadResult {
        let source = "the peer given to `rosenpass peer add`"
        let settings: PeerSettings
        let loadedPeer: LoadedPeer
        do throws(AppError) {
            var parsed = try Configuration.parse("listen = []\n[[peers]]\n" + toml, file: source, home: Environment.home)
            guard parsed.peers.count == 1 else { throw .usage("give the keys of exactly one [[peers]] entry, without its header") }
            settings = parsed.peers[0]
            if let name = settings.name, peers.contains(where: { !$0.isRemoved && $0.settings.name == name }) {
                throw .usage("a peer named \"\(name)\" is already configured; names must be unique")
            }
            parsed.peers = [settings]
            let loaded = try parsed.load()
            loadedPeer = loaded.peers[0]
            if peers.contains(where: { !$0.isRemoved && server.matches($0.handle, Self.coreConfiguration(loadedPeer)) })
                || peers.contains(where: { !$0.isRemoved && $0.settings.publicKeyPath == settings.publicKeyPath })
            {
                throw .usage("this peer is already configured")
            }
            let prepared = try prepare(loadedPeer, whileRunning: true)
            if persist { try appendToConfigurationFile(toml) }
            try add(loadedPeer, prepared, at: time)
        } catch {
            logger.warning("peer add (by \(who)) failed: \(error)")
            return ReloadResult(succeeded: false, message: "\(error); nothing was changed")
        }
        let label = peers[peers.count - 1].label
        let message = "peer \(label) added\(persist ? " and appended to \(configurationFile!)" : " (not in the configuration file: a reload removes it again)")"
        logger.notice("\(message), by \(who)")
        return ReloadResult(succeeded: true, message: message)
    }

    /// Removes the peer named `selector` (its `name`, peer id or `public_key` path), failing closed
    /// as a reload does; with `persist`, also deletes its entry from the configuration file.
    func removePeer(named selector: String, persist: Bool, at time: Seconds, requestedBy who: String) -> ReloadResult {
        let wanted = selector.trimmingCharacters(in: .whitespacesAndNewlines)
        let matches = peers.indices.filter { index in
            let runtime = peers[index]
            return !runtime.isRemoved
                && (runtime.settings.name == wanted || runtime.peerID == wanted || runtime.settings.publicKeyPath == wanted)
        }
        guard matches.count == 1, let index = matches.first else {
            let problem = matches.isEmpty ? "no configured peer has the name, peer id or public_key \"\(wanted)\"" : "\"\(wanted)\" names \(matches.count) peers; use the peer id"
            return ReloadResult(succeeded: false, message: problem)
        }
        if persist {
            do {
                try deleteFromConfigurationFile(peers[index].settings)
            } catch {
                logger.warning("peer remove (by \(who)) failed: \(error)")
                return ReloadResult(succeeded: false, message: "\(error); nothing was changed")
            }
        }
        let label = peers[index].label
        removePeer(index, at: time)
        let message = "peer \(label) removed\(persist ? " and deleted from \(configurationFile!)" : " (still in the configuration file: a reload adds it again)")"
        logger.notice("\(message), by \(who)")
        return ReloadResult(succeeded: true, message: message)
    }

    /// The configuration file, for `--persist`.
    private func persistentFile() throws(AppError) -> String {
        guard let configurationFile else {
            throw .usage("this daemon was started from `rosenpass exchange` words: there is no configuration file to change")
        }
        return configurationFile
    }

    /// Appends `[[peers]]` and `toml` to the configuration file, atomically, keeping its mode, after
    /// checking that the result still loads.
    private func appendToConfigurationFile(_ toml: String) throws(AppError) {
        let file = try persistentFile()
        let text = try FileIO.readText(file, limit: Configuration.maximumFileSize)
        let updated = text + (text.hasSuffix("\n") ? "" : "\n") + "\n[[peers]]\n" + toml + (toml.hasSuffix("\n") ? "" : "\n")
        _ = try Configuration.parse(updated, file: file, home: Environment.home)
        try replaceConfigurationFile(file, with: updated)
    }

    /// Deletes the entry whose settings are `settings` from the configuration file: the lines from its
    /// `[[peers]]` header up to the next table header. The rest of the file, comments included, stays;
    /// the result must load with that one peer fewer.
    private func deleteFromConfigurationFile(_ settings: PeerSettings) throws(AppError) {
        let file = try persistentFile()
        let text = try FileIO.readText(file, limit: Configuration.maximumFileSize)
        let current = try Configuration.parse(text, file: file, home: Environment.home)
        guard let position = current.peers.firstIndex(of: settings), let header = current.source.line(ofPeer: position) else {
            throw .runtime("\(file) does not hold this peer's entry as the daemon runs it (changed since the last reload?); remove it there and reload")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = header - 1
        var end = start + 1
        while end < lines.count && !lines[end].trimmingCharacters(in: .whitespaces).hasPrefix("[") { end += 1 }
        lines.removeSubrange(start..<end)
        var updated = lines.joined(separator: "\n")
        var expected = current.peers
        expected.remove(at: position)
        if expected.isEmpty && !updated.contains("[[peers]]") {
            updated = "peers = []\n" + updated
        }
        let check = try Configuration.parse(updated, file: file, home: Environment.home)
        guard check.peers == expected else {
            throw .runtime("\(file) could not be edited safely (its layout is unusual); remove the entry there and reload")
        }
        try replaceConfigurationFile(file, with: updated)
    }

    private func replaceConfigurationFile(_ file: String, with text: String) throws(AppError) {
        var info = stat()
        let mode = stat(file, &info) == 0 ? info.st_mode & 0o7777 : 0o600
        let bytes = Array(text.utf8)
        let result: Result<Void, AppError> = bytes.withUnsafeBytes { raw in
            Result { () throws(AppError) in try FileIO.writeAtomically(file, bytes: raw, mode: mode) }
        }
        try result.get()
    }
}
