// A peer's entry in the crypto server (`protocol.md` §4.1).

/// Everything the server keeps about one peer: its configuration, the values derived from its key
/// once, and its mutable protocol state.
struct Peer: Equatable, Sendable {
    let publicKey: [UInt8]
    let presharedKey: Secret
    let version: ProtocolVersion
    let separator: OutputKeyDomainSeparator
    /// `SEP` compressed under the peer's version.
    let compressedSeparator: [UInt8]
    let initiatorVariant: McElieceVariant
    /// Digests of the peer's public key under the peer's version: `init(spkt)`, the MAC key of
    /// messages to it, and its peer id `pidt`.
    let digests: PublicKeyDigests
    /// Our own peer id under the peer's version (`pidm`, IHI6).
    let ourPeerID: PeerID
    /// `lhash(V03, "cookie-key", spkt)`: decrypts the peer's CookieReplies.
    let cookieKey: Secret

    var initiates: Bool
    /// Whether our peer id is greater than the peer's: the tie-break for simultaneous initiation,
    /// computed once by ``CryptoServer/addPeer(_:)`` (`Peer-SimultaneousInitiation.swift`). Tests set
    /// it to `false` to model a reference node, which never declines an InitConf.
    var outranksPeer: Bool
    /// The highest biscuit number accepted from this peer (starts at 0).
    var biscuitUsed = BiscuitNumber.zero
    var session: Session?
    var handshake: InitiatorHandshake?
    var initiationRequested = false
    var cachedResponse: CachedResponse?

    /// The session ids of ours that route to this peer: the handshake's `sidi` and the session's `sidm`.
    var ownSessionIDs: Set<SessionID> {
        var ids = Set<SessionID>()
        if let handshake { ids.insert(handshake.sidi) }
        if let session { ids.insert(session.sidm) }
        return ids
    }
}
