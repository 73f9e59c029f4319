// The initiator's side: InitHello, RespHello → InitConf, EmptyData, CookieReply (`docs/protocol.md` §4.2, §4.4, §4.6, §6.4).

import RosenpassCrypto

extension CryptoServer {
    /// Starts a handshake with `peer` (IHI1–IHI8) and returns the InitHello to send to it.
    ///
    /// Any earlier handshake of ours with the peer is replaced; its session, if any, stays until the
    /// new one is established. While the peer's McEliece format is unknown, the handshake also
    /// prepares an InitHello in the other format, which its retransmissions alternate with.
    ///
    /// - Throws: ``ProtocolError`` of kind `unknownPeer` for a handle that names no peer, or with
    ///   reason ``DropReason/publicKeyUnavailable`` when the peer's key cannot be read.
    public mutating func initiateHandshake(
        with peer: PeerHandle, now: Seconds, entropy: inout some HandshakeEntropy
    ) throws(ProtocolError) -> [UInt8] {
        try checkPeer(peer)
        return try startHandshake(peer.index, reason: .requested, now: now, entropy: &entropy).message
    }

    /// IHI1–IHI8 for each offered format; installs the handshake and returns its first InitHello.
    /// Reads the peer's key first: when that fails, nothing changes.
    mutating func startHandshake(
        _ index: Int, reason: InitiationReason, now: Seconds, entropy: inout some HandshakeEntropy
    ) throws(ProtocolError) -> (message: [UInt8], activity: PeerActivity) {
        let targetKey = try publicKey(ofPeer: index)
        let digests = try digests(ofPeer: index, publicKey: targetKey)
        let target = state.peers[index]
        let version = target.version
        let variants = target.offeredVariants
        let cookieValue = Secret.random(count: CookieSecretRing.valueCount, for: .cookieValue, using: &entropy)

        var start = ChainingKey(start: digests.chainingKeyStart, version: version)  // IHI1
        let sidi = freshSessionID(using: &entropy)  // IHI2
        let ephemeral = kems.generateEphemeralKeyPair(using: &entropy)  // IHI3
        start.mix(sidi.bytes)  // IHI4
        start.mix(ephemeral.publicKey)
        entropy.record(.ihi4ChainingKey, start)
        var hellos = [InitiatorHandshake.Hello]()
        for variant in variants {
            var chain = start
            let encapsulation = kems.encapsulateStatic(variant, publicKey: targetKey, using: &entropy)  // IHI5
            chain.mixEncapsulation(publicKey: targetKey, sharedKey: encapsulation.sharedKey, ciphertext: encapsulation.ciphertext)
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
                layout: MessageLayout(variant: variant), sidi: sidi, epki: ephemeral.publicKey,
                sctr: encapsulation.ciphertext, pidiCiphertext: pidiCiphertext, auth: auth)
            Envelope.sealMAC(&message, macKey: digests.macKey, version: version)
            hellos.append(.init(variant: variant, chain: chain, message: message))
        }
        var first = hellos[0].message
        Envelope.sealCookie(&first, cookieValue: cookieValue)

        var handshake = InitiatorHandshake(
            createdAt: now, sidi: sidi, reason: reason,
            stage: .awaitingRespHello(
                ephemeralSecretKey: Secret(ephemeral.secretKey), ephemeralPublicKey: ephemeral.publicKey, hellos: hellos),
            storedMessage: hellos[0].message, cookieValue: cookieValue, cookieValueReceivedAt: now)
        handshake.schedule.restart(now: now, jitter: entropy.unitInterval(for: .retransmitJitter))
        updatePeer(index) { peer in
            peer.handshake = handshake
            peer.initiationRequested = false
            peer.pendingRepair = nil  // any new handshake of ours is output last at both ends, as a repair is
        }
        return (first, .handshakeStarted(peer: PeerHandle(index: index), variants: variants, reason: reason))
    }

    /// RespHello (RHI2–RHI7, ICI3–ICI7): checks it, installs the session and returns the InitConf.
    mutating func handleRespHello(
        _ message: RespHello, now: Seconds, entropy: inout some HandshakeEntropy
    ) throws(ProtocolError) -> HandleOutcome {
        guard let index = state.sessionIndex[message.sidi], let handshake = state.peers[index].handshake,
            handshake.sidi == message.sidi
        else { throw .unexpected("RespHello for session \(message.sidi): no handshake of ours has that id", reason: .noHandshake) }
        guard case .awaitingRespHello(let ephemeralSecretKey, let ephemeralPublicKey, _) = handshake.stage else {
            throw .unexpected(
                "RespHello for session \(message.sidi): the handshake is not waiting for one (duplicate)", reason: .noHandshake,
                peer: index)
        }
        let variant = message.layout.variant
        guard var chain = handshake.hello(variant)?.chain else {
            throw .unexpected(
                "RespHello of \(message.bytes.count) bytes (\(variant)) for a handshake that sent no InitHello in that format",
                reason: .malformed, peer: index)
        }
        let peer = state.peers[index]
        guard Envelope.verifyMAC(message.bytes, macKey: keys.digests(peer.version).macKey, version: peer.version) else {
            throw .badMAC(.respHello, peer: index)
        }
        let peerDigests = try digests(ofPeer: index)  // cached when the handshake started

        chain.mix(message.sidr.bytes)  // RHI3
        chain.mix(message.sidi.bytes)
        let ephemeralShared = kems.decapsulateEphemeral(secretKey: ephemeralSecretKey.bytes, ciphertext: message.ecti)  // RHI4
        chain.mixEncapsulation(publicKey: ephemeralPublicKey, sharedKey: ephemeralShared, ciphertext: message.ecti)
        let staticShared = kems.decapsulateStatic(  // RHI5
            variant, secretKey: keys.secretKey(variant).bytes, ciphertext: message.scti)
        chain.mixEncapsulation(publicKey: keys.publicKey, sharedKey: staticShared, ciphertext: message.scti)
        chain.mix(message.biscuit)  // RHI6
        do {
            _ = try chain.decryptAndMix(message.auth, what: "RespHello auth")  // RHI7
        } catch {
            throw error.attributed(to: index)
        }
        chain.mix(message.sidi.bytes)  // ICI3
        chain.mix(message.sidr.bytes)
        let auth = chain.encryptAndMixEmpty()  // ICI4

        var initConf = InitConf.encode(sidi: message.sidi, sidr: message.sidr, biscuit: message.biscuit, auth: auth)
        Envelope.sealMAC(&initConf, macKey: peerDigests.macKey, version: peer.version)
        Envelope.sealCookie(&initConf, cookieValue: handshake.cookieValue)

        let session = Session(chain: chain, role: .initiator, sidi: message.sidi, sidr: message.sidr, now: now)  // ICI7
        let outputKey = session.outputKey(separator: peer.compressedSeparator, version: peer.version)
        let jitter = entropy.unitInterval(for: .retransmitJitter)
        let handle = PeerHandle(index: index)
        var activity: [PeerActivity] = [.handshakeCompleted(peer: handle, role: .initiator, variant: variant)]
        // A key we took as responder a moment ago: the peer may apply the two in either order.
        let repairDue = peer.repairsCollisions && peer.keyFollowsResponderKey(at: now)
            ? now + peer.collisionRepairDelay(jitter: entropy.unitInterval(for: .retransmitJitter)) : nil
        let counterNow = state.biscuitCounter
        updatePeer(index) { peer in
            peer.session = session
            peer.handshake?.stage = .awaitingEmptyData(sidr: message.sidr)
            peer.handshake?.storedMessage = initConf
            peer.handshake?.schedule.restart(now: now, jitter: jitter)
            peer.lastInitiatorKeyAt = now
            if let learned = peer.learnVariant(variant) { activity.append(.variantLearned(peer: handle, variant: learned)) }
            if let repairDue { peer.pendingRepair = CollisionRepair(due: repairDue, biscuitFloor: counterNow) }
        }
        if let repairDue { activity.append(.handshakesCrossed(peer: handle, repairAt: repairDue)) }
        return HandleOutcome(reply: initConf, events: [.keyExchanged(peer: handle, outputKey: outputKey)], activity: activity, peer: handle)
    }

    /// EmptyData (`docs/protocol.md` §4.6): the responder acknowledged our InitConf; stop retransmitting.
    mutating func handleEmptyData(_ message: EmptyData) throws(ProtocolError) -> HandleOutcome {
        guard let index = state.sessionIndex[message.sid], let handshake = state.peers[index].handshake,
            handshake.sidi == message.sid
        else { throw .unexpected("EmptyData for session \(message.sid): no handshake of ours has that id", reason: .noHandshake) }
        let peer = state.peers[index]
        guard Envelope.verifyMAC(message.bytes, macKey: keys.digests(peer.version).macKey, version: peer.version) else {
            throw .badMAC(.emptyData, peer: index)
        }
        guard handshake.isCommitted else {
            throw .unexpected(
                "EmptyData for session \(message.sid): the handshake is not waiting for one", reason: .noHandshake, peer: index)
        }
        guard let session = peer.session, session.sidm == message.sid else {
            throw .unexpected("EmptyData for session \(message.sid): no live session with that id", reason: .noHandshake, peer: index)
        }
        guard message.counter >= session.txnt else {
            throw .unexpected("EmptyData counter \(message.counter) is below \(session.txnt)", reason: .replay, peer: index)
        }
        guard Session.verifyAcknowledgement(tag: message.auth, key: session.txkt, counter: message.counter) else {
            throw .authenticationFailed("EmptyData tag does not verify", peer: index)
        }
        updatePeer(index) { peer in
            peer.session?.txnt = message.counter  // only after the tag verified (§9)
            peer.handshake = nil
        }
        return HandleOutcome(peer: PeerHandle(index: index))
    }

    /// CookieReply (`docs/protocol.md` §6.4): store the cookie value and retransmit at once with it.
    mutating func handleCookieReply(
        _ message: CookieReply, now: Seconds, entropy: inout some HandshakeEntropy
    ) throws(ProtocolError) -> HandleOutcome {
        guard let index = state.sessionIndex[message.sid], let handshake = state.peers[index].handshake else {
            throw .unexpected("CookieReply for session \(message.sid): no handshake of ours is open", reason: .noHandshake)
        }
        guard let hello = handshake.hello(message.layout.variant) else {
            throw .unexpected(
                "CookieReply of \(message.bytes.count) bytes for a handshake with no InitHello of that size outstanding",
                reason: .noHandshake, peer: index)
        }
        let mac = Envelope.macField(hello.message)
        guard let cookieValue = CookieReplySealing.open(message.sealedCookie, cookieKey: try cookieKey(ofPeer: index), mac: mac) else {
            throw .authenticationFailed("CookieReply does not decrypt", peer: index)
        }
        let jitter = entropy.unitInterval(for: .retransmitJitter)
        let retransmission = updatePeer(index) { peer -> [UInt8] in
            peer.handshake!.cookieValue = cookieValue
            peer.handshake!.cookieValueReceivedAt = now
            peer.handshake!.storedMessage = hello.message  // the format the responder reads
            peer.handshake!.schedule.retransmitImmediately(now: now)
            peer.handshake!.schedule.advance(now: now, jitter: jitter)
            return peer.handshake!.messageForRetransmission
        }
        let handle = PeerHandle(index: index)
        return HandleOutcome(reply: retransmission, activity: [.cookieReceived(peer: handle)], peer: handle)
    }
}
