// The timers (`docs/protocol.md` §5.2).

extension CryptoServer {
    /// Runs every timer that is due at `now`, in the order of `docs/protocol.md` §5.2, per peer:
    /// give up a handshake 180 s after it began; delete a session 180 s after it began (event
    /// ``ServerEvent/keyStale(peer:)``); start a repair handshake when one is due after crossed
    /// handshakes (`Peer-Collisions.swift`), or a new handshake when there is no session or it is
    /// due for rekeying (120 s as responder, 130 s as initiator) and no handshake is open;
    /// retransmit the stored InitHello or InitConf on its schedule; drop a cached InitConf response
    /// after 120 s. Then for the node: erase biscuit keys after 600 s and cookie secrets after 240 s.
    ///
    /// - Returns: the messages to send to peers, the events, what happened, and the time of the next
    ///   due timer (at most ``TimerConstants/unending`` ahead).
    public mutating func poll(now: Seconds, entropy: inout some HandshakeEntropy) -> PollOutcome {
        var outcome = PollOutcome(messages: [], events: [], activity: [], nextPoll: now)
        for index in timers.takeDue(where: { reached($0, now) }) {
            if !state.peers[index].isRemoved { runTimers(ofPeer: index, now: now, entropy: &entropy, into: &outcome) }
            rescheduleTimers(of: index)
        }
        state.biscuitKeys.eraseExpired(now: now, using: &entropy)
        state.cookieSecrets.eraseExpired(now: now, using: &entropy)
        outcome.nextPoll = nextTimer(after: now)
        return outcome
    }

    /// The timers of one peer that ``timers`` says may be due.
    private mutating func runTimers(
        ofPeer index: Int, now: Seconds, entropy: inout some HandshakeEntropy, into outcome: inout PollOutcome
    ) {
        let handle = PeerHandle(index: index)
        let spread = initialSpread(of: state.peers[index])
        let expiredCacheKey = updatePeer(index) { peer -> [UInt8]? in
            var expiredCacheKey: [UInt8]?
            if peer.initiationNotBefore == nil { peer.initiationNotBefore = now + spread }
            if let handshake = peer.handshake, reached(handshake.expiresAt, now) {
                outcome.activity.append(
                    .handshakeExpired(peer: handle, awaiting: handshake.awaitedAnswer, retransmissions: handshake.retransmissions))
                peer.handshake = nil
            }
            if let session = peer.session, reached(session.createdAt + TimerConstants.rejectAfterTime, now) {
                peer.session = nil
                outcome.events.append(.keyStale(peer: handle))
            }
            if let due = peer.initiationRequestDue, reached(due, now) {
                peer.initiationRequested = true
            }
            if let cached = peer.cachedResponse, reached(cached.expiresAt, now) {
                peer.cachedResponse = nil
                expiredCacheKey = cached.initConfKey
            }
            return expiredCacheKey
        }
        if let expiredCacheKey { state.responseCacheIndex[expiredCacheKey] = nil }
        let peer = state.peers[index]
        if let repair = peer.pendingRepair, reached(repair.due, now) {
            if peer.initiates {
                start(index, reason: .collisionRepair, now: now, entropy: &entropy, into: &outcome)
            } else {
                updatePeer(index) { $0.pendingRepair = nil }  // we do not know where the peer is
            }
        } else if let due = peer.initiationDue, reached(due, now) {
            start(index, reason: peer.session == nil ? .noKey : .rekey, now: now, entropy: &entropy, into: &outcome)
        } else if let handshake = peer.handshake, reached(handshake.schedule.retryAt, now) {
            let jitter = entropy.unitInterval(for: .retransmitJitter)
            let message = updatePeer(index) { peer -> [UInt8] in
                peer.handshake!.nextRetransmission(now: now, jitter: jitter)
            }
            let retransmissions = state.peers[index].handshake!.retransmissions
            outcome.activity.append(.retransmitted(peer: handle, message: MessageType(rawValue: message[0])!, count: retransmissions))
            outcome.messages.append((handle, message))
        }
    }

    /// Starts a handshake from the timers; when the peer's key cannot be read, reports it and tries
    /// again after ``publicKeyRetryDelay``.
    private mutating func start(
        _ index: Int, reason: InitiationReason, now: Seconds, entropy: inout some HandshakeEntropy, into outcome: inout PollOutcome
    ) {
        let handle = PeerHandle(index: index)
        do {
            let started = try startHandshake(index, reason: reason, now: now, entropy: &entropy)
            outcome.messages.append((handle, started.message))
            outcome.activity.append(started.activity)
        } catch {
            outcome.activity.append(.publicKeyUnavailable(peer: handle, detail: error.detail))
            updatePeer(index) { peer in
                peer.pendingRepair = nil
                peer.initiationNotBefore = now + Self.publicKeyRetryDelay
            }
        }
    }

    /// How long the timers wait before trying a handshake again after the peer's public key could
    /// not be read.
    public static let publicKeyRetryDelay: Seconds = 10

    /// Servers with at most this many peers start every first handshake at once; larger ones
    /// spread them (``initialSpread(of:)``).
    public static let peersStartingAtOnce = 16
    /// The start-up spread per peer, and its cap: 10,000 peers start over 50 s.
    public static let initialSpreadPerPeer: Seconds = 0.005
    public static let initialSpreadLimit: Seconds = 60

    /// How long after the timers first see `peer` its first handshake may start: nothing with up to
    /// ``peersStartingAtOnce`` peers; otherwise a place in a window of ``initialSpreadPerPeer`` per
    /// peer (at most ``initialSpreadLimit``), fixed by the peer id, so that a gateway's peers do not
    /// all start, and then rekey every two minutes, in one burst (docs/scaling.md).
    func initialSpread(of peer: Peer) -> Seconds {
        let count = state.activePeerCount
        guard count > Self.peersStartingAtOnce else { return 0 }
        let window = min(Double(count) * Self.initialSpreadPerPeer, Self.initialSpreadLimit)
        let position = peer.peerID.bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return window * (Double(position >> 11) / Double(UInt64(1) << 53))
    }

    /// The earliest time at which ``poll(now:entropy:)`` has something to do: the earliest peer
    /// deadline in ``timers``, or a node-wide key erasure.
    mutating func nextTimer(after now: Seconds) -> Seconds {
        let next = min(
            now + TimerConstants.unending, timers.earliest(), state.biscuitKeys.nextErasure, state.cookieSecrets.nextErasure)
        return max(next, now)
    }
}

extension Peer {
    /// When the timers must set ``initiationRequested``: at once without a session, at the rekey
    /// time with one; not while a handshake is open, and not before ``initiationNotBefore``.
    var initiationRequestDue: Seconds? {
        guard !initiationRequested, handshake == nil, !isRemoved, let notBefore = initiationNotBefore else { return nil }
        guard let session else { return notBefore }
        return max(notBefore, session.createdAt + session.role.rekeyAfter)
    }

    /// When the timers start a requested handshake: once allowed, if we know where the peer is.
    var initiationDue: Seconds? {
        guard initiationRequested, initiates, handshake == nil, let notBefore = initiationNotBefore else { return nil }
        return notBefore
    }

    /// The earliest time at which the timers have something to do for this peer; `-.infinity` when
    /// they have not seen it yet, `.infinity` when nothing is pending.
    var nextDeadline: Seconds {
        guard !isRemoved else { return .infinity }
        guard initiationNotBefore != nil else { return -.infinity }
        var next = Seconds.infinity
        if let handshake {
            next = min(next, handshake.expiresAt, handshake.schedule.retryAt)
        }
        if let session { next = min(next, session.createdAt + TimerConstants.rejectAfterTime) }
        if let due = initiationRequestDue { next = min(next, due) }
        if let due = initiationDue { next = min(next, due) }
        if let repair = pendingRepair { next = min(next, repair.due) }
        if let cached = cachedResponse { next = min(next, cached.expiresAt) }
        return next
    }
}
