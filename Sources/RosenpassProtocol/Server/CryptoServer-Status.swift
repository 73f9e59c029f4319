// What the core tells a status view about a peer (`rosenpass status`, metrics). Read-only.

/// Where a peer stands in the protocol, for operators: its session, its open handshake, and the
/// McEliece format we initiate with.
public struct PeerProtocolStatus: Sendable, Equatable {
    /// Where the format we initiate with comes from.
    public enum VariantSource: String, Sendable {
        /// `mceliece_variant` in the configuration.
        case configured
        /// The format of the peer's last completed handshake.
        case learned
        /// Nothing known yet: round 3 first, alternating with round 4 until the peer answers.
        case probing
    }

    /// When the current session was made (nil: no live key).
    public var sessionCreatedAt: Seconds?
    /// Our role in the handshake that made it.
    public var sessionRole: HandshakeRole?
    /// When a new handshake is due: the session's rekey time. Nil without a session; then one
    /// starts as soon as we may initiate.
    public var rekeyAt: Seconds?
    /// The answer our open handshake waits for (nil: no handshake open).
    public var awaiting: MessageType?
    /// When our open handshake began.
    public var handshakeStartedAt: Seconds?
    /// How often its message was sent again.
    public var retransmissions: Int
    /// Whether the responder sent us a cookie (it is under load) that our handshake now carries.
    public var holdsCookie: Bool
    /// The McEliece format of our next InitHello, and where that choice comes from.
    public var initiatorVariant: McElieceVariant
    public var variantSource: VariantSource
    /// Whether we start handshakes with this peer (it has an endpoint).
    public var initiates: Bool
}

extension CryptoServer {
    /// What the core knows about `peer` (see ``PeerProtocolStatus``).
    public func status(of peer: PeerHandle) -> PeerProtocolStatus {
        let state = self.state.peers[peer.index]
        let source: PeerProtocolStatus.VariantSource =
            state.configuredVariant != nil ? .configured : state.learnedVariant != nil ? .learned : .probing
        return PeerProtocolStatus(
            sessionCreatedAt: state.session?.createdAt,
            sessionRole: state.session?.role,
            rekeyAt: state.session.map { $0.createdAt + $0.role.rekeyAfter },
            awaiting: state.handshake?.awaitedAnswer,
            handshakeStartedAt: state.handshake?.createdAt,
            retransmissions: state.handshake?.retransmissions ?? 0,
            // The cookie value starts out random, stamped with the handshake's start; a CookieReply restamps it.
            holdsCookie: state.handshake.map { $0.cookieValueReceivedAt > $0.createdAt } ?? false,
            initiatorVariant: state.initiatorVariant,
            variantSource: source,
            initiates: state.initiates)
    }
}
