// A peer's entry in the crypto server (`docs/protocol.md` §4.1).

/// Everything the server keeps about one peer: its configuration, the values derived from its key
/// once, and its mutable protocol state.
struct Peer: Equatable, Sendable {
    /// The peer's public key, in memory or read when a handshake needs it; `nil` once the peer is
    /// removed (``CryptoServer/removePeer(_:)``).
    var key: PeerPublicKey?
    /// `lhash(ver, "peer id", spkt)` under the peer's version.
    let peerID: PeerID
    let presharedKey: Secret
    let version: ProtocolVersion
    let separator: OutputKeyDomainSeparator
    /// `SEP` compressed under the peer's version.
    let compressedSeparator: [UInt8]
    /// The McEliece format set in the configuration (`mceliece_variant`); `nil` means automatic
    /// (`Peer-McElieceFormat.swift`).
    let configuredVariant: McElieceVariant?
    /// Our own peer id under the peer's version (`pidm`, IHI6).
    let ourPeerID: PeerID
    /// The other digests of the peer's public key, computed when first needed.
    var derived = DerivedKeyCache()

    var initiates: Bool
    /// Whether our peer id is greater than the peer's, computed once by ``CryptoServer/addPeer(_:)``:
    /// it staggers the two ends' collision repairs (`Peer-Collisions.swift`).
    var outranksPeer: Bool
    /// Whether a handshake collision is followed by a repair handshake. Always on; tests turn it off
    /// to model the reference implementation.
    var repairsCollisions = true
    /// The McEliece format of the peer's last completed handshake, when no format is configured.
    var learnedVariant: McElieceVariant?
    /// The session ids and formats of the last InitHellos we answered (`Peer-McElieceFormat.swift`).
    var recentAnswers: [AnsweredHello] = []
    /// The highest biscuit number accepted from this peer (starts at 0).
    var biscuitUsed = BiscuitNumber.zero
    var session: Session?
    var handshake: InitiatorHandshake?
    var initiationRequested = false
    var cachedResponse: CachedResponse?
    /// Our biscuit counter when our last committed handshake (InitConf sent) with this peer ended:
    /// an InitConf on an older biscuit ran alongside it (`Peer-Collisions.swift`).
    var rivalHorizon: BiscuitNumber?
    /// A repair handshake due after a collision (`Peer-Collisions.swift`).
    var pendingRepair: CollisionRepair?
    /// When we last output a key as initiator (RespHello) and as responder (InitConf).
    var lastInitiatorKeyAt = TimerConstants.never
    var lastResponderKeyAt = TimerConstants.never
    /// Set by ``CryptoServer/removePeer(_:)``: the entry only keeps its slot, so that handles stay unique.
    var isRemoved = false
    /// No handshake is started with the peer before this time: the first one waits for the peer's
    /// place in the start-up spread, and after the key could not be read, a retry waits a while
    /// (docs/scaling.md). `nil` until the first run of the timers sees the peer.
    var initiationNotBefore: Seconds?

    /// The session ids of ours that route to this peer: the handshake's `sidi` and the session's `sidm`.
    var ownSessionIDs: Set<SessionID> {
        var ids = Set<SessionID>()
        if let handshake { ids.insert(handshake.sidi) }
        if let session { ids.insert(session.sidm) }
        return ids
    }
}

/// Digests of a peer's public key that the server computes the first time a handshake needs them,
/// because each costs a pass over 512 KiB: `init(spkt)` and the MAC key of messages to the peer
/// (both needed by the first handshake either way), and the key that decrypts the peer's
/// CookieReplies (needed only when the peer is under load). A cache of values fixed by the
/// configuration, not protocol state: filling it changes nothing a datagram could observe, so it is
/// equal to every other cache, and a dropped datagram may fill it.
struct DerivedKeyCache: Equatable, Sendable {
    var digests: PublicKeyDigests?
    /// `lhash(V03, "cookie-key", spkt)`.
    var cookieKey: Secret?

    static func == (lhs: DerivedKeyCache, rhs: DerivedKeyCache) -> Bool { true }
}
