// What `rp exchange` and `rp exchange-config` are told (`docs/components.md` §8.1, §8.4).

import RosenpassProtocol

/// The settings of `rp exchange`, from its words or from an `exchange-config` TOML file.
///
/// This is the reference's `ExchangeOptions` as given, before any check beyond syntax;
/// ``RPExchangePlan`` checks and resolves it.
public struct RPExchangeOptions: Sendable, Equatable {
    /// The interface name used when `dev` is not given (the reference's).
    public static let defaultDevice = "rosenpass0"

    /// Whether the daemon logs each exchange (`verbose`).
    public var verbose: Bool
    /// The folder made by `rp genkey`: `wgsk`, `pqsk`, `pqpk` (`private_keys_dir`).
    public var privateKeysDir: String
    /// The WireGuard interface to create (`dev`); ``defaultDevice`` when absent.
    public var dev: String?
    /// The interface's own address, `ADDR/CIDR` (`ip`).
    public var ip: String?
    /// The Rosenpass UDP address (`listen`); WireGuard listens on the next port.
    public var listen: SocketAddress?
    /// The peers (`peer …` clauses, `[[peers]]`).
    public var peers: [RPPeerOptions]
    /// Where the values were written, when they come from a file (for messages).
    public var source: SourceLines

    /// Options with only the private key folder set.
    public init(
        verbose: Bool = false, privateKeysDir: String, dev: String? = nil, ip: String? = nil,
        listen: SocketAddress? = nil, peers: [RPPeerOptions] = []
    ) {
        self.verbose = verbose
        self.privateKeysDir = privateKeysDir
        self.dev = dev
        self.ip = ip
        self.listen = listen
        self.peers = peers
        self.source = SourceLines()
    }

    /// The interface name in effect.
    public var device: String { dev ?? Self.defaultDevice }
}

/// One peer of `rp exchange`.
public struct RPPeerOptions: Sendable, Equatable {
    /// The folder made by the peer's `rp pubkey`: `wgpk`, `pqpk` and optionally `psk`.
    public var publicKeysDir: String
    /// The peer's Rosenpass address; its WireGuard endpoint is the next port.
    public var endpoint: SocketAddress?
    /// WireGuard's persistent keepalive in seconds (`persistent-keepalive`).
    public var persistentKeepalive: UInt32?
    /// The peer's allowed IPs, comma separated (`allowed-ips`), also routed to the interface.
    public var allowedIPs: String?
    /// The Rosenpass protocol version (only settable in a config file; V02 by default).
    public var protocolVersion: ProtocolVersion

    /// A peer with only its folder set.
    public init(
        publicKeysDir: String, endpoint: SocketAddress? = nil, persistentKeepalive: UInt32? = nil,
        allowedIPs: String? = nil, protocolVersion: ProtocolVersion = .v02
    ) {
        self.publicKeysDir = publicKeysDir
        self.endpoint = endpoint
        self.persistentKeepalive = persistentKeepalive
        self.allowedIPs = allowedIPs
        self.protocolVersion = protocolVersion
    }
}
