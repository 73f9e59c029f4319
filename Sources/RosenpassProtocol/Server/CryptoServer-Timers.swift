// The timers (`protocol.md` §5.2).

extension CryptoServer {
    /// Runs every timer that is due at `now`, in the order of `protocol.md` §5.2, per peer:
    /// give up a handshake 180 s after it began, or 10 s after we declined the peer's rival InitConf
    /// while our own InitConf is still unacknowledged (then start a new one at once,
    /// `Peer-SimultaneousInitiation.swift`); delete a session 180 s after it began (event
    /// ``ServerEvent/keyStale(peer:)``); start a new handshake when there is no session or it is
    /// due for rekeying (120 s as responder, 130 s as initiator) and no handshake is open;
    /// retransmit the stored InitHello or InitConf on its schedule; drop a cached InitConf response
    /// after 120 s. Then for the node: erase biscuit keys after 600 s and cookie secrets after 240 s.
    ///
    /// - Returns: the messages to send to peers, the events, and the time of the next due timer
    ///   (at most ``TimerConstants/unending`` ahead).
    public mutating func poll(now: Seconds, entropy: inout some HandshakeEntropy) -> PollOutcome {
        var messages: [(peer: PeerHandle, message: [UInt8])] = []
        var events: [ServerEvent] = []
        for index in state.peers.indices {
            let handle = PeerHandle(index: index)
            let expiredCacheKey = updatePeer(index) { peer -> [UInt8]? in
                var expiredCacheKey: [UInt8]?
                if let handshake = peer.handshake, reached(handshake.expiresAt, now) {
                    peer.handshake = nil
                }
                if let declinedAt = peer.handshake?.rivalDeclinedAt,
                    reached(declinedAt + TimerConstants.rivalDeclineTimeout, now)
                {
                    // Our InitConf went unacknowledged after we declined the peer's: start over.
                    peer.handshake = nil
                    peer.initiationRequested = true
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
            if peer.initiationRequested && peer.initiates && peer.handshake == nil {
                if let message = try? initiateHandshake(with: handle, now: now, entropy: &entropy) {
                    messages.append((handle, message))
                }
            } else if let handshake = peer.handshake, reached(handshake.schedule.retryAt, now) {
                let jitter = entropy.unitInterval(for: .retransmitJitter)
                let message = updatePeer(index) { peer -> [UInt8] in
                    peer.handshake!.schedule.advance(now: now, jitter: jitter)
                    return peer.handshake!.messageForRetransmission
                }
                messages.append((handle, message))
            }
        }
        state.biscuitKeys.eraseExpired(now: now, using: &entropy)
        state.cookieSecrets.eraseExpired(now: now, using: &entropy)
        return PollOutcome(messages: messages, events: events, nextPoll: nextTimer(after: now))
    }

    /// The earliest time at which ``poll(now:entropy:)`` has something to do.
    func nextTimer(after now: Seconds) -> Seconds {
        var next = now + TimerConstants.unending
        for peer in state.peers {
            if let handshake = peer.handshake {
                next = min(next, handshake.expiresAt, handshake.schedule.retryAt)
                if let declinedAt = handshake.rivalDeclinedAt {
                    next = min(next, declinedAt + TimerConstants.rivalDeclineTimeout)
                }
            }
            if let session = peer.session {
                next = min(next, session.createdAt + TimerConstants.rejectAfterTime)
                if !peer.initiationRequested && peer.handshake == nil {
                    next = min(next, session.createdAt + session.role.rekeyAfter)
                }
            }
            if let cached = peer.cachedResponse { next = min(next, cached.expiresAt) }
        }
        next = min(next, state.biscuitKeys.nextErasure, state.cookieSecrets.nextErasure)
        return max(next, now)
    }
}
