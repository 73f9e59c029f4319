// The timers (`protocol.md` §5.2).

extension CryptoServer {
    /// Runs every timer that is due at `now`, in the order of `protocol.md` §5.2, per peer:
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
        var messages: [(peer: PeerHandle, message: [UInt8])] = []
        var events: [ServerEvent] = []
        var activity: [PeerActivity] = []
        for index in state.peers.indices where !state.peers[index].isRemoved {
            let handle = PeerHandle(index: index)
            let expiredCacheKey = updatePeer(index) { peer -> [UInt8]? in
                var expiredCacheKey: [UInt8]?
                if let handshake = peer.handshake, reached(handshake.expiresAt, now) {
                    activity.append(
                        .handshakeExpired(peer: handle, awaiting: handshake.awaitedAnswer, retransmissions: handshake.retransmissions))
                    peer.handshake = nil
                }
                if let session = peer.session, reached(session.createdAt + TimerConstants.rejectAfterTime, now) {
                    peer.session = nil
                    events.append(.keyStale(peer: handle))
                }
                if !peer.initiationRequested && peer.handshake == nil
                    && (peer.session.map { reached($0.createdAt + $0.role.rekeyAfter, now) } ?? true)
                {
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
                    let started = startHandshake(index, reason: .collisionRepair, now: now, entropy: &entropy)
                    messages.append((handle, started.message))
                    activity.append(started.activity)
                } else {
                    updatePeer(index) { $0.pendingRepair = nil }  // we do not know where the peer is
                }
            } else if peer.initiationRequested && peer.initiates && peer.handshake == nil {
                let started = startHandshake(index, reason: peer.session == nil ? .noKey : .rekey, now: now, entropy: &entropy)
                messages.append((handle, started.message))
                activity.append(started.activity)
            } else if let handshake = peer.handshake, reached(handshake.schedule.retryAt, now) {
                let jitter = entropy.unitInterval(for: .retransmitJitter)
                let message = updatePeer(index) { peer -> [UInt8] in
                    peer.handshake!.nextRetransmission(now: now, jitter: jitter)
                }
                let retransmissions = state.peers[index].handshake!.retransmissions
                activity.append(.retransmitted(peer: handle, message: MessageType(rawValue: message[0])!, count: retransmissions))
                messages.append((handle, message))
            }
        }
        state.biscuitKeys.eraseExpired(now: now, using: &entropy)
        state.cookieSecrets.eraseExpired(now: now, using: &entropy)
        return PollOutcome(messages: messages, events: events, activity: activity, nextPoll: nextTimer(after: now))
    }

    /// The earliest time at which ``poll(now:entropy:)`` has something to do.
    func nextTimer(after now: Seconds) -> Seconds {
        var next = now + TimerConstants.unending
        for peer in state.peers {
            if let handshake = peer.handshake {
                next = min(next, handshake.expiresAt, handshake.schedule.retryAt)
            }
            if let session = peer.session {
                next = min(next, session.createdAt + TimerConstants.rejectAfterTime)
                if !peer.initiationRequested && peer.handshake == nil {
                    next = min(next, session.createdAt + session.role.rekeyAfter)
                }
            }
            if let repair = peer.pendingRepair { next = min(next, repair.due) }
            if let cached = peer.cachedResponse { next = min(next, cached.expiresAt) }
        }
        next = min(next, state.biscuitKeys.nextErasure, state.cookieSecrets.nextErasure)
        return max(next, now)
    }
}
