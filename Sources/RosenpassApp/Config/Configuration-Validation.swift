// The logical checks of a configuration (`docs/components.md` §4.3), loading every file it names.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassCrypto
import RosenpassProtocol

/// A configuration with every file it names loaded and every endpoint resolved: what the daemon
/// starts from, and what `validate` proves can be built.
public struct LoadedConfiguration: Sendable {
    /// Our key pair, when configured.
    public var keypair: (publicKey: [UInt8], secretKey: SecretBytes, variant: McElieceVariant)?
    /// The peers, in configuration order.
    public var peers: [LoadedPeer]
    /// Warnings that do not stop the daemon (loose PSK file permissions, a peer with our own key).
    public var warnings: [String]
}

/// One peer with its files loaded.
public struct LoadedPeer: Sendable {
    public var settings: PeerSettings
    /// The peer's public key: its peer id, and its file to read it from when a handshake needs it.
    public var publicKey: PeerPublicKey
    public var presharedKey: SecretBytes?
    /// The endpoint's addresses, resolved at start-up; empty when the peer has no endpoint.
    public var endpointAddresses: [SocketAddress]
}

extension Configuration {
    /// Checks the configuration as `docs/components.md` §4.3 describes, and more: our key pair loads
    /// (exact sizes, secret key not readable by others, the two halves belong together); each peer's public key and PSK load; each
    /// endpoint resolves; each peer has `key_out` or a WireGuard target, and `key_out`'s folder
    /// exists; no two peers share a public key.
    ///
    /// - Parameter resolve: resolves a peer endpoint; the default uses `getaddrinfo`.
    /// - Returns: everything loaded, for the daemon.
    /// - Throws: ``AppError`` naming the file (and line) and the problem.
    public func load(
        resolve: (HostAndPort) throws(AppError) -> [SocketAddress] = { endpoint throws(AppError) in try endpoint.resolve() }
    ) throws(AppError) -> LoadedConfiguration {
        var loaded = LoadedConfiguration(keypair: nil, peers: [], warnings: [])
        if let publicKeyPath, let secretKeyPath {
            let publicKey = try at(source.line(of: "public_key")) { () throws(AppError) in
                try StaticKeyFiles.loadPublicKey(publicKeyPath)
            }
            let secret = try at(source.line(of: "secret_key")) { () throws(AppError) in
                try StaticKeyFiles.loadSecretKey(secretKeyPath)
            }
            guard StaticKeyFiles.isPair(publicKey: publicKey, secretKey: secret.key, variant: secret.variant) else {
                throw problem(
                    source.line(of: "secret_key"),
                    "\(secretKeyPath): this secret key does not belong to the public key \(publicKeyPath) (every handshake would fail); make a new pair with `rosenpass gen-keys`, or fix the paths")
            }
            loaded.keypair = (publicKey, secret.key, secret.variant)
        }
        let keys = PeerKeyLoading.load(peers, ownKey: loaded.keypair?.publicKey)
        var seen: [PeerKeyLoading.Sample: [Int]] = [:]
        var keyOuts: [String: Int] = [:]
        for (index, peer) in peers.enumerated() {
            let context = "peer \(index)"
            let key = try at(source.line(ofPeer: index, key: "public_key"), context) { () throws(AppError) in try keys[index].get() }
            // Keys with the same sample are compared whole (read again); others differ.
            for earlier in seen[key.sample] ?? [] {
                let same = try at(source.line(ofPeer: index, key: "public_key"), context) { () throws(AppError) in
                    try PeerKeyLoading.sameKey(peers[earlier].publicKeyPath, peer.publicKeyPath)
                }
                if same {
                    throw problem(source.line(ofPeer: index, key: "public_key"), "\(context) has the same public key as peer \(earlier)")
                }
            }
            seen[key.sample, default: []].append(index)
            if key.isOurs {
                loaded.warnings.append("\(context)'s public key is our own public key: it can only talk to another daemon with the same keys")
            }
            let publicKey = key.publicKey

            var presharedKey: SecretBytes?
            if let path = peer.presharedKeyPath {
                let psk = try at(source.line(ofPeer: index, key: "pre_shared_key"), context) { () throws(AppError) in
                    try PresharedKeyFile.load(path)
                }
                presharedKey = psk.key
                if let warning = psk.warning { loaded.warnings.append(warning) }
            }

            var addresses: [SocketAddress] = []
            if let endpoint = peer.endpoint {
                guard let hostPort = HostAndPort(endpoint) else {
                    throw problem(source.line(ofPeer: index, key: "endpoint"), "\(context) endpoint \(endpoint) can not be parsed to a socket address")
                }
                addresses = try at(source.line(ofPeer: index, key: "endpoint"), context) { () throws(AppError) in try resolve(hostPort) }
                if hostPort.port == 0 {
                    loaded.warnings.append("\(context): endpoint \(endpoint) has port 0, which nothing can listen on; our handshakes to it go nowhere")
                }
            }

            guard peer.keyOut != nil || peer.wireGuard != nil else {
                throw problem(
                    source.line(ofPeer: index), "\(context) has neither `key_out` nor valid wireguard config defined")
            }
            if let keyOut = peer.keyOut {
                let (directory, name) = FileIO.split(keyOut)
                guard !name.isEmpty else {
                    throw problem(source.line(ofPeer: index, key: "key_out"), "\(context) key_out \"\(keyOut)\" names a folder, not a file")
                }
                if !directory.isEmpty && !FileIO.exists(directory) {
                    throw problem(
                        source.line(ofPeer: index, key: "key_out"),
                        "\(context) key_out \"\(keyOut)\": the folder \"\(directory)\" does not exist")
                }
                let folder = directory.isEmpty ? "." : directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
                if access(folder, W_OK | X_OK) != 0 {
                    loaded.warnings.append(
                        "\(context): key_out \"\(keyOut)\": this user cannot write in the folder \"\(folder)\" (\(String(cString: strerror(errno)))), so no key can be written there")
                }
                let canonical = FileIO.canonical(folder) + "/" + name
                if let earlier = keyOuts[canonical] {
                    loaded.warnings.append(
                        "\(context) and peer \(earlier) share key_out \"\(keyOut)\": each key overwrites the other peer's; give each peer a file of its own")
                } else {
                    keyOuts[canonical] = index
                }
            }
            loaded.peers.append(LoadedPeer(settings: peer, publicKey: publicKey, presharedKey: presharedKey, endpointAddresses: addresses))
        }
        return loaded
    }

    /// The check run before `exchange` and `exchange-config` (`docs/components.md` §4.3 item 3).
    public func checkUsefulness() throws(AppError) {
        guard hasKeypair else {
            throw problem(nil, "Server keypair missing: set public_key and secret_key (make them with `rosenpass gen-keys`)")
        }
    }

    /// Runs `body`, adding the configuration file and line to the error it throws.
    private func at<T>(_ line: Int?, _ context: String? = nil, _ body: () throws(AppError) -> T) throws(AppError) -> T {
        do {
            return try body()
        } catch {
            guard let file = source.file else {
                throw context.map { AppError.runtime("\($0): \(error)") } ?? error
            }
            let prefix = context.map { "\($0): " } ?? ""
            throw .config(file: file, line: line, prefix + error.description)
        }
    }

    private func problem(_ line: Int?, _ message: String) -> AppError {
        guard let file = source.file else { return .runtime(message) }
        return .config(file: file, line: line, message)
    }
}
