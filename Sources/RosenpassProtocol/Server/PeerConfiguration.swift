// What the daemon tells the crypto server about a peer (`docs/protocol.md` §4.1, §7).

import RosenpassCrypto

/// A peer of the crypto server, as configured.
public struct PeerConfiguration: Sendable {
    /// The peer's static Classic McEliece 460896 public key (524160 bytes), with its peer id under
    /// the protocol version both sides configure for each other.
    public var key: PeerPublicKey
    /// The optional pre-shared key (32 bytes); `nil` mixes 32 zero bytes (`docs/protocol.md` §7).
    public var presharedKey: SecretBytes?
    /// The protocol version both sides configure for each other: the one ``key``'s peer id is under.
    public var version: ProtocolVersion { key.version }
    /// The domain separator of the output key; both sides must agree.
    public var outputKeySeparator: OutputKeyDomainSeparator
    /// The McEliece ciphertext format to use when we initiate; `nil` means automatic: round 3, or the
    /// format of the peer's last completed handshake, probing round 4 while neither is known
    /// (`Peer-McElieceFormat.swift`). As responder we answer in whatever format the peer used.
    public var initiatorVariant: McElieceVariant?
    /// Whether ``CryptoServer/poll(now:entropy:)`` starts handshakes with this peer (the daemon
    /// knows its endpoint). A peer that does not initiate still responds.
    public var initiates: Bool

    /// Creates a peer configuration with a public key kept in memory.
    public init(
        publicKey: [UInt8],
        presharedKey: SecretBytes? = nil,
        version: ProtocolVersion,
        outputKeySeparator: OutputKeyDomainSeparator = .wireGuardPSK,
        initiatorVariant: McElieceVariant? = nil,
        initiates: Bool = true
    ) {
        self.init(
            key: PeerPublicKey(bytes: publicKey, version: version), presharedKey: presharedKey,
            outputKeySeparator: outputKeySeparator, initiatorVariant: initiatorVariant, initiates: initiates)
    }

    /// Creates a peer configuration; the protocol version is the one `key` was made for.
    public init(
        key: PeerPublicKey,
        presharedKey: SecretBytes? = nil,
        outputKeySeparator: OutputKeyDomainSeparator = .wireGuardPSK,
        initiatorVariant: McElieceVariant? = nil,
        initiates: Bool = true
    ) {
        self.key = key
        self.presharedKey = presharedKey
        self.outputKeySeparator = outputKeySeparator
        self.initiatorVariant = initiatorVariant
        self.initiates = initiates
    }
}

/// A handle to a configured peer: its position in the order peers were added.
public struct PeerHandle: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The index, from 0 in the order of ``CryptoServer/addPeer(_:)``.
    public let index: Int

    public init(index: Int) { self.index = index }

    public static func < (lhs: PeerHandle, rhs: PeerHandle) -> Bool { lhs.index < rhs.index }

    public var description: String { "peer #\(index)" }
}

/// What the crypto server reports to the daemon.
public enum ServerEvent: Equatable, Sendable, CustomStringConvertible {
    /// A handshake with `peer` finished: `outputKey` is the new 32-byte shared key (the WireGuard PSK).
    case keyExchanged(peer: PeerHandle, outputKey: Secret)
    /// The key of `peer` is older than 180 s and must no longer be used: the daemon replaces it
    /// with a random key (`docs/protocol.md` §5.5).
    case keyStale(peer: PeerHandle)

    public var description: String {
        switch self {
        case .keyExchanged(let peer, _): return "key exchanged with \(peer)"
        case .keyStale(let peer): return "key of \(peer) is stale"
        }
    }
}
