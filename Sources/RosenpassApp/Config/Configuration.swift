// The daemon's configuration: the reference's TOML schema (`docs/components.md` §4) and our additions.

import RosenpassProtocol

/// What the `rosenpass` daemon runs with: our key pair, where to listen, and the peers.
///
/// It is read from a TOML file (`exchange-config`, ``Configuration/load(file:environment:)``) or from
/// the legacy `exchange` arguments (``LegacyExchangeArguments``), and written back as TOML by
/// `exchange -c` and `gen-config` (``Configuration/tomlText``). The schema is the reference's
/// (`docs/components.md` §4.1, §4.2), plus `psk_broker`, `control_socket`, `control_socket_group` and
/// `metrics_listen` and `log_format` at the top level and `name` and `mceliece_variant` per peer.
public struct Configuration: Sendable, Equatable {
    /// Our static public key file (`public_key`).
    public var publicKeyPath: String?
    /// Our static secret key file (`secret_key`).
    public var secretKeyPath: String?
    /// The UDP socket addresses to bind (`listen`); IP literals such as `"[::]:9999"` or
    /// `"0.0.0.0:9999"`. Empty means "any address, any port" (`docs/components.md` §6.3).
    public var listen: [String]
    /// Whether exchanges and dropped packets are logged (`verbosity`).
    public var verbosity: Verbosity
    /// A running `rosenpass-wireguard-broker-socket-handler` socket to hand WireGuard keys to
    /// (`psk_broker`, our addition; `--psk-broker` overrides it).
    public var pskBroker: String?
    /// Where the daemon serves `rosenpass status`, `metrics` and `reload` (`control_socket`, our
    /// addition; docs/control-socket.md). Off when absent.
    public var controlSocket: String?
    /// The group that may use the control socket (`control_socket_group`): the socket is then mode
    /// 0660 and owned by it; otherwise 0600 (only the daemon's user).
    public var controlSocketGroup: String?
    /// An IP socket address on which the daemon serves Prometheus metrics over HTTP
    /// (`metrics_listen`, e.g. "127.0.0.1:9586"). Off when absent.
    public var metricsListen: String?
    /// How the daemon writes its log (`log_format`, our addition): text lines, or JSON lines.
    public var logFormat: LogFormat = .text
    /// The peers (`[[peers]]`).
    public var peers: [PeerSettings]
    /// Whether an (empty) `[api]` table was present; kept so that `exchange -c` round-trips.
    public var hasAPITable: Bool
    /// Where things were written, for messages; not part of the configuration's meaning.
    public var source: SourceLines

    /// A configuration with no key pair, no listen addresses and no peers.
    public init(
        publicKeyPath: String? = nil, secretKeyPath: String? = nil, listen: [String] = [],
        verbosity: Verbosity = .quiet, pskBroker: String? = nil, peers: [PeerSettings] = [],
        hasAPITable: Bool = false
    ) {
        self.publicKeyPath = publicKeyPath
        self.secretKeyPath = secretKeyPath
        self.listen = listen
        self.verbosity = verbosity
        self.pskBroker = pskBroker
        self.peers = peers
        self.hasAPITable = hasAPITable
        self.source = SourceLines()
    }

    /// Whether both halves of our key pair are configured.
    public var hasKeypair: Bool { publicKeyPath != nil && secretKeyPath != nil }
}

/// `verbosity = "Quiet" | "Verbose"` (`docs/components.md` §4.1).
public enum Verbosity: String, Sendable, Equatable, CaseIterable {
    case quiet = "Quiet"
    case verbose = "Verbose"
}

/// One `[[peers]]` entry (`docs/components.md` §4.2).
public struct PeerSettings: Sendable, Equatable {
    /// How log lines name the peer (`name`, our addition); without it, they name its endpoint,
    /// WireGuard peer and a short id.
    public var name: String?
    /// The peer's static public key file (`public_key`).
    public var publicKeyPath: String
    /// `host:port` to initiate to (`endpoint`); absent means we only respond.
    public var endpoint: String?
    /// A base64 file with the optional Rosenpass pre-shared key (`pre_shared_key`).
    public var presharedKeyPath: String?
    /// Where to write each output key (`key_out`), announced on stdout.
    public var keyOut: String?
    /// The WireGuard interface and peer to hand keys to (`device`, `peer`, `extra_params`).
    public var wireGuard: WireGuardTarget?
    /// `protocol_version`; V02 unless set.
    public var protocolVersion: ProtocolVersion
    /// `osk_organization` and `osk_label`; the WireGuard PSK separator unless set.
    public var outputKeySeparator: OutputKeyDomainSeparator?
    /// `mceliece_variant` (our addition): the Classic McEliece ciphertext format this peer reads,
    /// used when we initiate. Absent: round 3, or the format the peer was seen to use.
    public var mcelieceVariant: McElieceVariant?

    /// A peer with only a public key; everything else at its default.
    public init(
        publicKeyPath: String, endpoint: String? = nil, presharedKeyPath: String? = nil, keyOut: String? = nil,
        wireGuard: WireGuardTarget? = nil, protocolVersion: ProtocolVersion = .v02,
        outputKeySeparator: OutputKeyDomainSeparator? = nil, mcelieceVariant: McElieceVariant? = nil, name: String? = nil
    ) {
        self.name = name
        self.publicKeyPath = publicKeyPath
        self.endpoint = endpoint
        self.presharedKeyPath = presharedKeyPath
        self.keyOut = keyOut
        self.wireGuard = wireGuard
        self.protocolVersion = protocolVersion
        self.outputKeySeparator = outputKeySeparator
        self.mcelieceVariant = mcelieceVariant
    }
}

/// The WireGuard side of a peer: interface, the peer's WireGuard public key (base64) and the
/// reference's `extra_params` for `wg set`.
public struct WireGuardTarget: Sendable, Equatable {
    /// The interface name (`device`).
    public var device: String
    /// The remote peer's WireGuard public key, 44 characters of base64 (`peer`).
    public var peer: String
    /// Extra `wg set` arguments (`extra_params`). With them, and no PSK broker chosen explicitly,
    /// the daemon runs `wg set` itself as the reference does; the broker protocol has no room for them.
    public var extraParams: [String]

    public init(device: String, peer: String, extraParams: [String] = []) {
        self.device = device
        self.peer = peer
        self.extraParams = extraParams
    }
}

/// Lines in the configuration file where keys were written, so later checks (a key file that does
/// not exist, an endpoint that does not resolve) can point at them. Always equal: positions are not
/// part of a configuration's meaning.
public struct SourceLines: Sendable, Equatable {
    /// The file the configuration came from, if any.
    public var file: String?
    /// Top-level key → line.
    var topLevel: [String: Int] = [:]
    /// Per peer: key → line, and the line of its `[[peers]]` header under the key "".
    var peers: [[String: Int]] = []

    public init(file: String? = nil) { self.file = file }

    /// The line of a top-level key.
    func line(of key: String) -> Int? { topLevel[key] }

    /// The line of `key` in peer `index`, or of the peer's header.
    func line(ofPeer index: Int, key: String? = nil) -> Int? {
        guard peers.indices.contains(index) else { return nil }
        if let key, let line = peers[index][key] { return line }
        return peers[index][""]
    }

    public static func == (lhs: SourceLines, rhs: SourceLines) -> Bool { true }
}
