// What the crypto server reports for logs, counters and status, beside the key events.

/// Something the crypto server did or noticed about a peer. The daemon turns these into log
/// lines and counters; they never carry secrets.
public enum PeerActivity: Sendable, Hashable {
    /// We started a handshake. Its InitHello goes out in the first of `variants`; while the peer's
    /// McEliece format is unknown, retransmissions alternate with the second.
    case handshakeStarted(peer: PeerHandle, variants: [McElieceVariant], reason: InitiationReason)
    /// We sent our InitHello or InitConf again; `count` numbers the retransmissions of that message.
    case retransmitted(peer: PeerHandle, message: MessageType, count: Int)
    /// We gave a handshake up 180 s after it began, still waiting for `awaiting`: a RespHello (the
    /// handshake produced nothing) or an EmptyData (we hold its key; the peer never confirmed it).
    case handshakeExpired(peer: PeerHandle, awaiting: MessageType, retransmissions: Int)
    /// We answered the peer's InitHello with a RespHello in `variant`.
    case answeredInitHello(peer: PeerHandle, variant: McElieceVariant)
    /// A handshake finished with a new key (the ``ServerEvent/keyExchanged(peer:outputKey:)`` event
    /// comes with it). `variant` is known when we were the initiator.
    case handshakeCompleted(peer: PeerHandle, role: HandshakeRole, variant: McElieceVariant?)
    /// The peer used `variant`, a format other than the one we initiated with; we use it from now on.
    case variantLearned(peer: PeerHandle, variant: McElieceVariant)
    /// The peer's handshake crossed one of ours; a repair handshake is due at `repairAt`.
    case handshakesCrossed(peer: PeerHandle, repairAt: Seconds)
    /// The peer answered our InitHello with a CookieReply: it is under load and wants proof of our
    /// address before it spends work on us.
    case cookieReceived(peer: PeerHandle)
    /// A handshake with the peer could not start because its public key could not be read (the
    /// file is gone, or holds another key); the timers try again later (docs/scaling.md).
    case publicKeyUnavailable(peer: PeerHandle, detail: String)

    /// The peer the activity concerns.
    public var peer: PeerHandle {
        switch self {
        case .handshakeStarted(let peer, _, _), .retransmitted(let peer, _, _), .handshakeExpired(let peer, _, _),
            .answeredInitHello(let peer, _), .handshakeCompleted(let peer, _, _), .variantLearned(let peer, _),
            .handshakesCrossed(let peer, _), .cookieReceived(let peer), .publicKeyUnavailable(let peer, _):
            return peer
        }
    }
}
