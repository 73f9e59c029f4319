// The initiator's side: InitHello, RespHello → InitConf, EmptyData, CookieReply (`protocol.md` §4.2, §4.4, §4.6, §6.4).

import RosenpassCrypto

extension CryptoServer {
    /// Starts a handshake with `peer` (IHI1–IHI8) and returns the InitHello to send to it.
    ///
    /// Any earlier handshake of ours with the peer is replaced; its session, if any, stays until the
    /// new one is established.
    ///
    /// - Throws: ``ProtocolError`` of kind `unknownPeer` for a handle that names no peer.
    public mutating func initiateHandshake(
        with peer: PeerHandle, now: Seconds, entropy: inout some HandshakeEntropy
    ) throws(ProtocolError) -> [UInt8] {
        try checkPeer(peer)
        let target = state.peers[peer.index]
        let version = target.version
        let variant = target.initiatorVariant
        let layout = MessageLayout(variant: variant)
        let cookieValue = Secret.random(count: CookieSecretRing.valueCount, for: .cookieValue, using: &entropy)

        var chain = ChainingKey(start: target.digests.chainingKeyStart, version: version)  // IHI1
        let sidi = freshSessionID(using: &entropy)  // IHI2
        let ephemeral = kems.generateEphemeralKeyPair(using: &entropy)  // IHI3
        chain.mix(sidi.bytes)  // IHI4
        chain.mix(ephemeral.publicKey)
        entropy.record(.ihi4ChainingKey, chain)
        let encapsulation = kems.encapsulateStatic(variant, publicKey: target.publicKey, using: &entropy)  // IHI5
        chain.mixEncapsulation(publicKey: target.publicKey, sharedKey: encapsulation.sharedKey, ciphertext: encapsulation.ciphertext)
        entropy.record(.ihi5ChainingKey, chain)
        let pidiCiphertext = target.ourPeerID.bytes.withUnsafeBytes { chain.encryptAndMix($0) }  // IHI6
        entropy.record(.ihi6PeerIDCiphertext, pidiCiphertext)
        entropy.record(.ihi6ChainingKey, chain)
        chain.mix(keys.publicKey)  // IHI7
        chain.mix(target.presharedKey)
        entropy.record(.ihi7ChainingKey, chain)
        let auth = chain.encryptAndMixEmpty()  // IHI8
        entropy.record(.ihi8Auth, auth)
        entropy.record(.ihi8ChainingKey, chain)

        var message = InitHello.encode(
            layout: layout, sidi: sidi, epki: ephemeral.publicKey, sctr: encapsulation.ciphertext,
            pidiCiphertext: pidiCiphertext, auth: auth)
        Envelope.sealMAC(&message, macKey: target.digests.macKey, version: version)
        Envelope.sealCookie(&message, cookieValue: cookieValue)

        var handshake = InitiatorHandshake(
            createdAt: now, sidi: sidi, variant: variant,
            stage: .awaitingRespHello(
                chain: chain, ephemeralSecretKey: Secret(ephemeral.secretKey), ephemeralPublicKey: ephemeral.publicKey),
            storedMessage: message, cookieValue: cookieValue, cookieValueReceivedAt: now)
        handshake.schedule.restart(now: now, jitter: entropy.unitInterval(for: .retransmitJitter))
        updatePeer(peer.index) { peer in
            peer.handshake = handshake
            peer.initiationRequested = false
        }
        return message
    }

    /// RespHello (RHI2–RHI7, ICI3–ICI7): checks it, installs the session and returns the InitConf.
    mutating func handleRespHello(
        _ message: RespHello, now: Seconds, entropy: inout some HandshakeEntropy
    ) throws(ProtocolError) -> HandleOutcome {
        guard let index = state.sessionIndex[message.sidi], let handshake = state.peers[index].handshake,
            handshake.sidi == message.sidi
        else { throw .unexpected("RespHello for session \(message.sidi): no handshake of ours has that id") }
        guard case .awaitingRespHello(var chain, let ephemeralSecretKey, let ephemeralPublicKey) = handshake.stage else {
            throw .unexpected("RespHello for session \(message.sidi): the handshake is not waiting for one (duplicate)")
        }
        guard message.layout.variant == handshake.variant else {
            throw .unexpected("RespHello of \(message.bytes.count) bytes for a \(handshake.variant) handshake")
        }
        let peer = state.peers[index]
        guard Envelope.verifyMAC(message.bytes, macKey: keys.digests(peer.version).macKey, version: peer.version) else {
            throw .badMAC(.respHello)
        }

        chain.mix(message.sidr.bytes)  // RHI3
        chain.mix(message.sidi.bytes)
        let ephemeralShared = kems.decapsulateEphemeral(secretKey: ephemeralSecretKey.bytes, ciphertext: message.ecti)  // RHI4
        chain.mixEncapsulation(publicKey: ephemeralPublicKey, sharedKey: ephemeralShared, ciphertext: message.ecti)
        let staticShared = kems.decapsulateStatic(  // RHI5
            handshake.variant, secretKey: keys.secretKey(handshake.variant).bytes, ciphertext: message.scti)
        chain.mixEncapsulation(publicKey: keys.publicKey, sharedKey: staticShared, ciphertext: message.scti)
        chain.mix(message.biscuit)  // RHI6
        _ = try chain.decryptAndMix(message.auth, what: "RespHello auth")  // RHI7
        chain.mix(message.sidi.bytes)  // ICI3
        chain.mix(message.sidr.bytes)
        let auth = chain.encryptAndMixEmpty()  // ICI4

        var initConf = InitConf.encode(sidi: message.sidi, sidr: message.sidr, biscuit: message.biscuit, auth: auth)
        Envelope.sealMAC(&initConf, macKey: peer.digests.macKey, version: peer.version)
        Envelope.sealCookie(&initConf, cookieValue: handshake.cookieValue)

        let session = Session(chain: chain, role: .initiator, sidi: message.sidi, sidr: message.sidr, now: now)  // ICI7
        let outputKey = session.outputKey(separator: peer.compressedSeparator, version: peer.version)
        let jitter = entropy.unitInterval(for: .retransmitJitter)
        updatePeer(index) { peer in
            peer.session = session
            peer.handshake?.stage = .awaitingEmptyData(sidr: message.sidr)
            peer.handshake?.storedMessage = initConf
            peer.handshake?.schedule.restart(now: now, jitter: jitter)
        }
        let handle = PeerHandle(index: index)
        return HandleOutcome(reply: initConf, events: [.keyExchanged(peer: handle, outputKey: outputKey)], peer: handle)
    }

    /// EmptyData (`protocol.md` §4.6): the responder acknowledged our InitConf; stop retransmitting.
    /// The session remembers our biscuit counter at this point (``Session/rivalHorizon``).
    mutating func handleEmptyData(_ message: EmptyData) throws(ProtocolError) -> HandleOutcome {
        guard let index = state.sessionIndex[message.sid], let handshake = state.peers[index].handshake,
            handshake.sidi == message.sid
        else { throw .unexpected("EmptyData for session \(message.sid): no handshake of ours has that id") }
        let peer = state.peers[index]
        guard Envelope.verifyMAC(message.bytes, macKey: keys.digests(peer.version).macKey, version: peer.version) else {
            throw .badMAC(.emptyData)
        }
        guard case .awaitingEmptyData = handshake.stage else {
            throw .unexpected("EmptyData for session \(message.sid): the handshake is not waiting for one")
        }
        guard let session = peer.session, session.sidm == message.sid else {
            throw .unexpected("EmptyData for session \(message.sid): no live session with that id")
        }
        guard message.counter >= session.txnt else {
            throw .unexpected("EmptyData counter \(message.counter) is below \(session.txnt)")
        }
        guard Session.verifyAcknowledgement(tag: message.auth, key: session.txkt, counter: message.counter) else {
            throw .authenticationFailed("EmptyData tag does not verify")
        }
        let horizon = state.biscuitCounter  // the first biscuit issued after the peer took our session
        updatePeer(index) { peer in
            peer.session?.txnt = message.counter  // only after the tag verified (§9)
            peer.session?.rivalHorizon = horizon
            peer.handshake = nil
        }
        return HandleOutcome(peer: PeerHandle(index: index))
    }

    /// CookieReply (`protocol.md` §6.4): store the cookie value and retransmit at once with it.
    mutating func handleCookieReply(
        _ message: CookieReply, now: Seconds, entropy: inout some HandshakeEntropy
    ) throws(ProtocolError) -> HandleOutcome {
        guard let index = state.sessionIndex[message.sid], let handshake = state.peers[index].handshake else {
            throw .unexpected("CookieReply for session \(message.sid): no handshake of ours is open")
        }
        guard message.layout.variant == handshake.variant else {
            throw .unexpected("CookieReply of \(message.bytes.count) bytes for a \(handshake.variant) handshake")
        }
        let peer = state.peers[index]
        let mac = Envelope.macField(handshake.storedMessage)
        guard let cookieValue = CookieReplySealing.open(message.sealedCookie, cookieKey: peer.cookieKey, mac: mac) else {
            throw .authenticationFailed("CookieReply does not decrypt")
        }
        let jitter = entropy.unitInterval(for: .retransmitJitter)
        let retransmission = updatePeer(index) { peer -> [UInt8] in
            peer.handshake!.cookieValue = cookieValue
            peer.handshake!.cookieValueReceivedAt = now
            peer.handshake!.schedule.retransmitImmediately(now: now)
            peer.handshake!.schedule.advance(now: now, jitter: jitter)
            return peer.handshake!.messageForRetransmission
        }
        return HandleOutcome(reply: retransmission, peer: PeerHandle(index: index))
    }
}
