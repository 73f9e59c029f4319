// A peer's entry in the crypto server (`protocol.md` §4.1).

/// Everything the server keeps about one peer: its configuration, the values derived from its key
/// once, and its mutable protocol state.
struct Peer: Equatable, Sendable {
    /// Emptied when the peer is removed (``CryptoServer/removePeer(_:)``).
    var publicKey: [UInt8]
    let presharedKey: Secret
    let version: ProtocolVersion
    let separator: OutputKeyDomainSeparator
    /// `SEP` compressed under the peer's version.
    let compressedSeparator: [UInt8]
    /// The McEliece format set in the configuration (`mceliece_variant`); `nil` means automatic
    /// (`Peer-McElieceFormat.swift`).
    let configuredVariant: McElieceVariant?
    /// Digests of the peer's public key under the peer's version: `init(spkt)`, the MAC key of
    /// messages to it, and its peer id `pidt`.
    let digests: PublicKeyDigests
    /// Our own peer id under the peer's version (`pidm`, IHI6).
    let ourPeerID: PeerID
    /// `lhash(V03, "cookie-key", spkt)`: decrypts the peer's CookieReplies.
    let cookieKey: Secret

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

    /// The session ids of ours that route to this peer: the handshake's `sidi` and the session's `sidm`.
    var ownSessionIDs: Set<SessionID> {
        var ids = Set<SessionID>()
        if let handshake { ids.insert(handshake.sidi) }
        if let session { ids.insert(session.sidm) }
        return ids
    }
}
