// The crypto server: our keys, the peer table and the public API the daemon drives.

import RosenpassCrypto

/// The Rosenpass protocol as a pure state machine (`docs/protocol.md`).
///
/// It holds our static key pair, the peers, and every piece of protocol state. It does no I/O:
/// the daemon feeds it datagrams and the time, and sends what it returns. All randomness comes from
/// the ``HandshakeEntropy`` passed to each call, and all KEM operations go through a ``KEMSuite``,
/// so a recorded handshake replays byte for byte.
///
/// Three entry points:
/// - ``initiateHandshake(with:now:entropy:)`` starts a handshake and returns the InitHello to send;
/// - ``handle(datagram:from:now:entropy:)`` processes one received datagram and returns the reply
///   to send back to its sender, if any, and the events;
/// - ``poll(now:entropy:)`` runs the timers (`docs/protocol.md` §5): it returns the messages to send to
///   peers, the events, and when to call it again.
///
/// A dropped datagram throws a ``ProtocolError`` and leaves the state exactly as it was (but for
/// the DoS budgets an InitHello with a valid MAC spends).
public struct CryptoServer: Sendable {
    let keys: LocalStaticKeys
    let kems: any KEMSuite
    /// The rule for "under load" and whether DoS cookies are used (`docs/protocol.md` §6).
    public let loadPolicy: LoadPolicy
    var state: ServerState
    /// Each peer's id under the version *not* configured for it, built the first time an InitHello
    /// names an unknown peer id: then a peer that uses the other protocol version is named in the
    /// error instead of passing for a stranger. Derived from the configuration; not protocol state.
    var otherVersionPeerIDs: [PeerID: Int]?
    /// When each peer's timers next need the server (``Peer/nextDeadline``), so that ``poll(now:entropy:)``
    /// visits only the peers that are due. Derived from `state`; kept in step by ``updatePeer(_:_:)``.
    var timers = DeadlineQueue()

    /// Creates a server for our static key pair.
    ///
    /// - Parameters:
    ///   - secretKey: our Classic McEliece 460896 secret key in either layout (13568 or 13608 bytes);
    ///     it is converted once so that both ciphertext formats can be answered.
    ///   - publicKey: our public key (524160 bytes).
    ///   - kems: the KEM implementations.
    ///   - loadPolicy: when to require DoS cookies; on by default.
    ///   - entropy: draws the initial biscuit keys and cookie secrets.
    /// - Throws: ``ProtocolError`` of kind `invalidConfiguration` for keys of the wrong size.
    public init(
        secretKey: SecretBytes,
        publicKey: [UInt8],
        kems: some KEMSuite,
        loadPolicy: LoadPolicy = .standard,
        entropy: inout some HandshakeEntropy
    ) throws(ProtocolError) {
        keys = try LocalStaticKeys(secretKey: secretKey, publicKey: publicKey, kems: kems)
        self.kems = kems
        self.loadPolicy = loadPolicy
        state = ServerState(
            cookieSecrets: CookieSecretRing(using: &entropy),
            biscuitKeys: BiscuitKeyRing(using: &entropy),
            load: LoadMonitor(policy: loadPolicy))
    }

    /// Creates a server with the standard KEMs (Kyber-512 round 3, Classic McEliece 460896).
    ///
    /// - Throws: ``ProtocolError`` of kind `invalidConfiguration` for keys of the wrong size.
    public init(
        secretKey: SecretBytes, publicKey: [UInt8], loadPolicy: LoadPolicy = .standard, entropy: inout some HandshakeEntropy
    ) throws(ProtocolError) {
        try self.init(secretKey: secretKey, publicKey: publicKey, kems: StandardKEMs(), loadPolicy: loadPolicy, entropy: &entropy)
    }

    /// Our public key.
    public var publicKey: [UInt8] { keys.publicKey }

    /// ``loadPolicy`` for the number of peers configured now (``LoadPolicy/scaled(toPeers:)``).
    public var effectiveLoadPolicy: LoadPolicy { loadPolicy.scaled(toPeers: state.activePeerCount) }

    /// The layout of the secret key we were given (13568 bytes: round 3; 13608 bytes: round 4). It
    /// says nothing about the format we send: see ``initiatorVariant(of:)``.
    public var secretKeyVariant: McElieceVariant { keys.nativeVariant }

    /// Our own peer id under `version`, as peers configured with that version know us.
    public func ownPeerID(_ version: ProtocolVersion) -> PeerID { keys.digests(version).peerID }

    /// Adds a peer.
    ///
    /// - Returns: the handle by which events name this peer.
    /// - Throws: ``ProtocolError`` of kind `invalidConfiguration` for a public key or PSK of the wrong
    ///   size, or a peer whose id equals that of an existing peer.
    @discardableResult
    public mutating func addPeer(_ configuration: PeerConfiguration) throws(ProtocolError) -> PeerHandle {
        let key = configuration.key
        guard key.byteCount == McElieceVariant.publicKeyCount else {
            throw .invalidConfiguration(
                "peer public key must be \(McElieceVariant.publicKeyCount) bytes, got \(key.byteCount)")
        }
        if let psk = configuration.presharedKey, psk.count != 32 {
            throw .invalidConfiguration("pre-shared key must be 32 bytes, got \(psk.count)")
        }
        let version = key.version
        guard state.peerIDIndex[key.peerID] == nil else {
            throw .invalidConfiguration("a peer with the id \(key.peerID) is already configured")
        }
        var peer = Peer(
            key: key,
            peerID: key.peerID,
            presharedKey: configuration.presharedKey.map(Secret.init) ?? Secret(zeros: 32),
            version: version,
            separator: configuration.outputKeySeparator,
            compressedSeparator: configuration.outputKeySeparator.compressed(version),
            configuredVariant: configuration.initiatorVariant,
            ourPeerID: keys.digests(version).peerID,
            initiates: configuration.initiates,
            outranksPeer: Peer.outranks(ours: keys.digests(version).peerID, theirs: key.peerID))
        // Biscuits issued before this peer was added (to an earlier entry of the same peer, removed
        // since) must not open a session with it: they count as used.
        peer.biscuitUsed = state.biscuitCounter.predecessor
        state.peers.append(peer)
        state.activePeerCount += 1
        otherVersionPeerIDs = nil
        let handle = PeerHandle(index: state.peers.count - 1)
        state.peerIDIndex[key.peerID] = handle.index
        rescheduleTimers(of: handle.index)
        return handle
    }

    /// Removes `peer` (a peer taken out of the configuration while the daemon runs). Its session,
    /// open handshake and cached response are dropped, and with them their keys; datagrams from it
    /// are dropped from now on as from an unknown peer. Its handle is never given to another peer;
    /// adding the same public key again makes a new peer that starts afresh, and no biscuit issued
    /// before that opens a session with it.
    ///
    /// - Throws: ``ProtocolError`` of kind `unknownPeer` when `peer` is not configured.
    public mutating func removePeer(_ peer: PeerHandle) throws(ProtocolError) {
        try checkPeer(peer)
        let index = peer.index
        let cacheKey = state.peers[index].cachedResponse?.initConfKey
        updatePeer(index) { entry in
            entry.session = nil
            entry.handshake = nil
            entry.cachedResponse = nil
            entry.pendingRepair = nil
            entry.initiates = false
            entry.initiationRequested = false
            entry.recentAnswers = []
            entry.key = nil
            entry.derived = DerivedKeyCache()
            entry.isRemoved = true
        }
        state.activePeerCount -= 1
        if let cacheKey, state.responseCacheIndex[cacheKey] == index { state.responseCacheIndex[cacheKey] = nil }
        if state.peerIDIndex[state.peers[index].peerID] == index { state.peerIDIndex[state.peers[index].peerID] = nil }
        otherVersionPeerIDs = nil
    }

    /// The number of peers added, removed ones included: handles run from 0 to `peerCount - 1`.
    public var peerCount: Int { state.peers.count }

    /// Whether `peer` was added with `configuration`: the same public key, pre-shared key, version,
    /// output key separator, McEliece format and initiation. A reloaded configuration keeps such a
    /// peer, with its sessions and timers, as it is.
    public func matches(_ peer: PeerHandle, _ configuration: PeerConfiguration) -> Bool {
        let entry = state.peers[peer.index]
        let psk = configuration.presharedKey.map(Secret.init) ?? Secret(zeros: 32)
        return !entry.isRemoved && entry.key == configuration.key && entry.presharedKey == psk
            && entry.version == configuration.version && entry.separator == configuration.outputKeySeparator
            && entry.configuredVariant == configuration.initiatorVariant && entry.initiates == configuration.initiates
    }

    /// Whether `peer` was removed.
    public func isRemoved(_ peer: PeerHandle) -> Bool { state.peers[peer.index].isRemoved }

    /// The id of `peer` (under its configured version); the daemon prints its ``PeerID/base64``.
    public func peerID(of peer: PeerHandle) -> PeerID { state.peers[peer.index].peerID }

    /// The protocol version configured for `peer`.
    public func version(of peer: PeerHandle) -> ProtocolVersion { state.peers[peer.index].version }

    /// Turns automatic initiation for `peer` on or off (the daemon learned or lost its endpoint).
    public mutating func setInitiates(_ initiates: Bool, for peer: PeerHandle) throws(ProtocolError) {
        try checkPeer(peer)
        updatePeer(peer.index) { $0.initiates = initiates }
    }

    /// The McEliece format of the next InitHello we send `peer`: configured, learned from the peer,
    /// or round 3 (`Peer-McElieceFormat.swift`).
    public func initiatorVariant(of peer: PeerHandle) -> McElieceVariant { state.peers[peer.index].initiatorVariant }

    /// Whether the format we initiate with is still being probed for `peer` (nothing configured, and
    /// the peer has not yet completed a handshake with us).
    public func isProbingVariant(of peer: PeerHandle) -> Bool { state.peers[peer.index].offeredVariants.count > 1 }

    /// Whether `peer` has a live session (a key that is not stale).
    public func hasSession(with peer: PeerHandle) -> Bool { state.peers[peer.index].session != nil }

    /// Whether we have an initiator handshake open with `peer`.
    public func hasHandshake(with peer: PeerHandle) -> Bool { state.peers[peer.index].handshake != nil }

    func checkPeer(_ peer: PeerHandle) throws(ProtocolError) {
        guard state.peers.indices.contains(peer.index), !state.peers[peer.index].isRemoved else {
            throw .unknownPeer("no \(peer) is configured")
        }
    }

    /// Applies `body` to a peer and keeps the session-id index in step with its handshake and session.
    /// When a handshake we had committed to ends (acknowledged, replaced, dropped or expired), the
    /// peer's ``Peer/rivalHorizon`` moves to the current biscuit counter (`Peer-Collisions.swift`).
    mutating func updatePeer<R>(_ index: Int, _ body: (inout Peer) -> R) -> R {
        let before = state.peers[index].ownSessionIDs
        let committed = state.peers[index].handshake.flatMap { $0.isCommitted ? $0.sidi : nil }
        let result = body(&state.peers[index])
        if let committed, state.peers[index].handshake?.sidi != committed {
            state.peers[index].rivalHorizon = state.biscuitCounter
        }
        let after = state.peers[index].ownSessionIDs
        for id in before.subtracting(after) where state.sessionIndex[id] == index { state.sessionIndex[id] = nil }
        for id in after.subtracting(before) { state.sessionIndex[id] = index }
        rescheduleTimers(of: index)
        return result
    }

    /// Puts peer `index`'s next deadline into ``timers``.
    mutating func rescheduleTimers(of index: Int) {
        timers.schedule(index, at: state.peers[index].nextDeadline)
    }

    /// The public key of peer `index`: from memory, or read from its source.
    func publicKey(ofPeer index: Int) throws(ProtocolError) -> [UInt8] {
        guard let key = state.peers[index].key else { throw .unknownPeer("\(PeerHandle(index: index)) was removed") }
        do {
            return try key.bytes()
        } catch {
            throw error.attributed(to: index)
        }
    }

    /// The digests of peer `index`'s public key, computed (from `publicKey`, or by reading the key)
    /// and cached the first time they are needed.
    mutating func digests(ofPeer index: Int, publicKey: [UInt8]? = nil) throws(ProtocolError) -> PublicKeyDigests {
        if let digests = state.peers[index].derived.digests { return digests }
        let bytes: [UInt8]
        if let publicKey { bytes = publicKey } else { bytes = try self.publicKey(ofPeer: index) }
        let digests = PublicKeyDigests(publicKey: bytes, version: state.peers[index].version, peerID: state.peers[index].peerID)
        state.peers[index].derived.digests = digests
        return digests
    }

    /// `lhash(V03, "cookie-key", spkt)` of peer `index`, computed and cached the first time a
    /// CookieReply from it arrives.
    mutating func cookieKey(ofPeer index: Int) throws(ProtocolError) -> Secret {
        if let key = state.peers[index].derived.cookieKey { return key }
        let key = Secret(copying: DomainConstants.cookies.cookieKey.adding(try publicKey(ofPeer: index)).value)
        state.peers[index].derived.cookieKey = key
        return key
    }

    /// The peer whose id under the version not configured for it is `peerID`, if any. The index is
    /// built the first time it is needed, from every peer's key; with more than
    /// ``otherVersionLookupLimit`` peers whose keys are not in memory it is not built (reading them
    /// all would stall the server), and such an InitHello counts as from an unknown peer.
    mutating func peerUsingOtherVersion(_ peerID: PeerID) -> Int? {
        if otherVersionPeerIDs == nil {
            var index = [PeerID: Int]()
            let stored = state.peers.lazy.filter { !$0.isRemoved && $0.key?.isInMemory == false }.count
            if stored <= Self.otherVersionLookupLimit {
                for (position, peer) in state.peers.enumerated() where !peer.isRemoved {
                    guard let bytes = try? peer.key?.bytes() else { continue }
                    let other: ProtocolVersion = peer.version == .v02 ? .v03 : .v02
                    index[PeerID(bytes: DomainConstants.of(other).peerID.adding(bytes).value)] = position
                }
            }
            otherVersionPeerIDs = index
        }
        return otherVersionPeerIDs?[peerID]
    }

    /// See ``peerUsingOtherVersion(_:)``.
    static let otherVersionLookupLimit = 64

    /// Draws a session id that is not registered yet.
    func freshSessionID(using entropy: inout some HandshakeEntropy) -> SessionID {
        while true {
            let id = SessionID(bytes: entropy.bytes(FieldSize.sessionID, for: .sessionID))
            if state.sessionIndex[id] == nil { return id }
        }
    }
}

/// Everything in a crypto server that changes. Equality compares every field, secrets in constant
/// time, so tests can check that a rejected datagram changed nothing.
struct ServerState: Equatable, Sendable {
    var peers: [Peer] = []
    /// `pid(spkt)` under each peer's version → peer index.
    var peerIDIndex: [PeerID: Int] = [:]
    /// Our own session ids (handshake `sidi`, session `sidm`) → peer index.
    var sessionIndex: [SessionID: Int] = [:]
    /// InitConf bytes `0 ..< 160` of cached responses → peer index.
    var responseCacheIndex: [[UInt8]: Int] = [:]
    /// The node-wide biscuit counter, starting at 1.
    var biscuitCounter = BiscuitNumber.one
    var cookieSecrets: CookieSecretRing
    var biscuitKeys: BiscuitKeyRing
    var load: LoadMonitor
    var sources = SourceBudgets()
    /// Peers added and not removed.
    var activePeerCount = 0
}

/// What handling one datagram produced.
public struct HandleOutcome: Sendable {
    /// The datagram to send back to the sender, if any: RespHello, EmptyData, CookieReply, InitConf,
    /// or an InitHello retransmitted with a fresh cookie after a CookieReply.
    public var reply: [UInt8]?
    /// The keys to deliver: one new key, at most.
    public var events: [ServerEvent]
    /// What happened, for logs and counters.
    public var activity: [PeerActivity]
    /// The peer the datagram belonged to, when it could be told.
    public var peer: PeerHandle?

    init(reply: [UInt8]? = nil, events: [ServerEvent] = [], activity: [PeerActivity] = [], peer: PeerHandle? = nil) {
        self.reply = reply
        self.events = events
        self.activity = activity
        self.peer = peer
    }
}

/// What one run of the timers produced.
public struct PollOutcome: Sendable {
    /// Messages to send to a peer's endpoint: new InitHellos and retransmissions.
    public var messages: [(peer: PeerHandle, message: [UInt8])]
    /// Stale keys.
    public var events: [ServerEvent]
    /// What happened, for logs and counters: handshakes started, retransmitted or given up.
    public var activity: [PeerActivity]
    /// When to poll again, at the latest (another datagram may make it sooner).
    public var nextPoll: Seconds
}
