// Checking `rp exchange` options and working out what to configure (`docs/components.md` §8.3).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassBroker
import RosenpassProtocol

/// `rp exchange`'s options, checked and resolved: the interface, WireGuard's ports and endpoints
/// (the Rosenpass port + 1), parsed addresses and allowed IPs.
///
/// Everything that can be checked without touching the system is checked here, before an interface
/// exists, so a typo never leaves a half-configured interface behind. Fixed against the reference
/// (`docs/components.md` §8.3): a listen or endpoint port of 65535 is refused instead of overflowing;
/// `allowed-ips` lists are split at commas (each entry gets its own route); keepalives above
/// WireGuard's 65535 seconds are refused instead of failing silently inside `wg set`.
struct RPExchangePlan: Sendable {
    /// One peer, resolved.
    struct Peer: Sendable {
        /// The folder with `wgpk`, `pqpk` and the optional `psk`.
        var publicKeysDir: String
        /// Where the peer's Rosenpass listens, if we initiate.
        var rosenpassEndpoint: SocketAddress?
        /// The peer's WireGuard endpoint: its Rosenpass endpoint with port + 1.
        var wireGuardEndpoint: SocketAddress?
        /// WireGuard's persistent keepalive, seconds (nil or 0: off).
        var persistentKeepalive: UInt16?
        /// The peer's allowed IPs, host bits cleared; each is also routed to the interface.
        var allowedIPs: [IPPrefix]
        /// The Rosenpass protocol version.
        var protocolVersion: ProtocolVersion
    }

    /// The WireGuard interface to create.
    var device: String
    /// The interface's own address (`ip`).
    var address: IPPrefix?
    /// Rosenpass's UDP address; nil: any address, a port of the kernel's choice.
    var listen: SocketAddress?
    /// WireGuard's listen port: `listen`'s port + 1; nil: the kernel's (or wireguard-go's) choice.
    var wireGuardListenPort: UInt16?
    /// The folder with `wgsk`, `pqsk` and `pqpk`.
    var privateKeysDir: String
    /// Whether the daemon logs each exchange.
    var verbose: Bool
    /// The peers.
    var peers: [Peer]
    /// Things worth telling the user that do not stop `rp` (e.g. host bits cleared in allowed-ips).
    var warnings: [String]

    /// Checks `options`.
    ///
    /// - Throws: ``AppError`` naming the option (and, for a config file, the file and line).
    init(_ options: RPExchangeOptions) throws(AppError) {
        let source = options.source
        func problem(_ key: String, peer: Int? = nil, _ message: String) -> AppError {
            guard let file = source.file else { return .runtime(message) }
            let line = peer.map { source.line(ofPeer: $0, key: key) } ?? source.line(of: key)
            return .config(file: file, line: line, message)
        }
        let fromFile = source.file != nil
        func name(_ word: String, _ key: String) -> String { fromFile ? "'\(key)'" : word }

        device = options.device
        guard WireGuardInterfaceName.isValid(device) else {
            throw problem("dev", "\(name("dev", "dev")) \"\(device)\" is not a usable interface name: 1 to 15 bytes, no '/', ':' or white space")
        }
        if let text = options.ip {
            guard let prefix = IPPrefix(text) else {
                throw problem("ip", "\(name("ip", "ip")) \"\(text)\" is not an address with a prefix length, such as 10.0.0.1/24 or fc00::1/64")
            }
            address = prefix
        }
        listen = options.listen
        if let listen = options.listen {
            switch listen.port {
            case 0:
                throw problem(
                    "listen",
                    "\(name("listen", "listen")) \(listen): port 0 is not supported, because WireGuard listens on the Rosenpass port + 1; choose a port, or leave out listen to let the kernel choose both")
            case UInt16.max:
                throw problem(
                    "listen",
                    "\(name("listen", "listen")) \(listen): WireGuard listens on the Rosenpass port + 1, and there is no port after 65535; choose a lower port")
            default:
                wireGuardListenPort = listen.port + 1
            }
        }
        privateKeysDir = options.privateKeysDir
        verbose = options.verbose

        var peers = [Peer]()
        var warnings = [String]()
        for (index, peer) in options.peers.enumerated() {
            let label = fromFile ? "peer \(index): " : "peer \(peer.publicKeysDir): "
            var resolved = Peer(
                publicKeysDir: peer.publicKeysDir, rosenpassEndpoint: peer.endpoint, wireGuardEndpoint: nil,
                persistentKeepalive: nil, allowedIPs: [], protocolVersion: peer.protocolVersion)
            if let endpoint = peer.endpoint {
                guard endpoint.port != 0, endpoint.port != UInt16.max else {
                    throw problem(
                        "endpoint", peer: index,
                        "\(label)\(name("endpoint", "endpoint")) \(endpoint): the port must be 1 to 65534 (the peer's WireGuard is at the Rosenpass port + 1)")
                }
                resolved.wireGuardEndpoint = endpoint.with(port: endpoint.port + 1)
            }
            if let seconds = peer.persistentKeepalive {
                guard let value = UInt16(exactly: seconds) else {
                    throw problem(
                        "persistent_keepalive", peer: index,
                        "\(label)\(name("persistent-keepalive", "persistent_keepalive")) \(seconds): WireGuard allows at most 65535 seconds")
                }
                resolved.persistentKeepalive = value
            }
            if let list = peer.allowedIPs {
                switch IPPrefix.list(list) {
                case .failure(let invalid):
                    throw problem(
                        "allowed_ips", peer: index,
                        "\(label)\(name("allowed-ips", "allowed_ips")) entry \"\(invalid.text)\" is not an address or ADDR/CIDR prefix (write a comma-separated list such as 10.0.0.2/32,fc00::2/128)")
                case .success(let prefixes):
                    for prefix in prefixes where prefix.hasHostBits {
                        warnings.append("\(label)allowed IP \(prefix) has host bits set; using \(prefix.network)")
                    }
                    var seen = Set<IPPrefix>()
                    resolved.allowedIPs = prefixes.map(\.network).filter { seen.insert($0).inserted }
                }
            }
            peers.append(resolved)
        }
        // Two peers cannot share an allowed IP: WireGuard would silently move it to the last one.
        var owner = [IPPrefix: Int]()
        for (index, peer) in peers.enumerated() {
            for prefix in peer.allowedIPs {
                if let earlier = owner[prefix] {
                    throw problem(
                        "allowed_ips", peer: index,
                        "allowed IP \(prefix) is given to two peers (\(peers[earlier].publicKeysDir) and \(peer.publicKeysDir)); WireGuard routes an address to one peer only")
                }
                owner[prefix] = index
            }
        }
        self.peers = peers
        self.warnings = warnings
    }
}
