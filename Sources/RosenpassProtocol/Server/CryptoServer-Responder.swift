// The responder's side: InitHello → RespHello or CookieReply, InitConf → EmptyData (`docs/protocol.md` §4.3, §4.5, §6.3).

import RosenpassCrypto

extension CryptoServer {
    /// Handles one received datagram.
    ///
    /// The envelope MAC is checked before any expensive or state-changing work; a datagram of the
    /// wrong length or type, with a bad MAC, or that fails any check is dropped by throwing, and the
    /// server's state is then exactly what it was, but for one thing: an InitHello whose MAC
    /// verified has cost McEliece work and counts against the DoS budgets (``LoadPolicy``).
    ///
    /// - Parameters:
    ///   - datagram: the bytes received.
    ///   - hostID: a stable encoding of the sender's address (e.g. address and port); it binds DoS
    ///     cookies to the sender (`docs/protocol.md` §6.3).
    ///   - source: the sender as a unit of the per-source budget under load (the daemon passes the
    ///     IPv4 address or the /64 of the IPv6 address, so that changing ports gains nothing);
    ///     `nil` derives one from `hostID` (``LoadPolicy``).
    ///   - now: the current time on the caller's monotonic clock.
    ///   - entropy: the randomness for any reply.
    /// - Returns: the reply to send back to the sender, if any, and the events.
    /// - Throws: ``ProtocolError`` naming why the datagram was dropped.
    public mutating func handle(
        datagram: [UInt8], from hostID: [UInt8], source: SourceKey? = nil, now: Seconds, entropy: inout some HandshakeEntropy
    ) throws(ProtocolError) -> HandleOutcome {
        switch try ParsedDatagram.parse(datagram) {
        case .initHello(let message):
            return try handleInitHello(message, from: hostID, source: source ?? SourceKey(identifier: hostID), now: now, entropy: &entropy)
        case .respHello(let message): return try handleRespHello(message, now: now, entropy: &entropy)
        case .initConf(let message): return try handleInitConf(message, now: now, entropy: &entropy)
        case .emptyData(let message): return try handleEmptyData(message)
        case .cookieReply(let message): return try handleCookieReply(message, now: now, entropy: &entropy)
        }
    }

    /// Whether an InitHello from `source` would be dropped at once: the responder is under load and
    /// the source has used up its share (``LoadPolicy``). The daemon asks before it copies or parses
    /// a datagram, so a flood from one source costs little more than receiving it.
    public func refusesInitHello(from source: SourceKey, now: Seconds) -> Bool {
        let policy = effectiveLoadPolicy
        return state.load.isUnderLoad(at: now, policy: policy) && !state.sources.allows(source, at: now, policy: policy)
    }

    /// The versions whose MAC key (ours) verifies the envelope, in the responder's try order.
    private func versionsWithValidMAC(_ bytes: [UInt8]) -> [ProtocolVersion] {
        ProtocolVersion.responderTryOrder.filter {
            Envelope.verifyMAC(bytes, macKey: keys.digests($0).macKey, version: $0)
        }
    }

    // MARK: InitHello

    /// InitHello: IHR1–IHR8 then RHR1–RHR7, or a CookieReply when under load without a valid cookie.
    /// Under load, a source that has used up its own budget is dropped before anything is computed.
    mutating func handleInitHello(
        _ message: InitHello, from hostID: [UInt8], source: SourceKey, now: Seconds, entropy: inout some HandshakeEntropy
    ) throws(ProtocolError) -> HandleOutcome {
        let policy = effectiveLoadPolicy
        let underLoad = state.load.isUnderLoad(at: now, policy: policy)
        if underLoad && !state.sources.allows(source, at: now, policy: policy) {
            throw .rateLimited
        }
        let versions = versionsWithValidMAC(message.bytes)
        guard !versions.isEmpty else { throw .badMAC(.initHello) }

        if underLoad {
            var secrets = state.cookieSecrets
            let usable = secrets.usableSecrets(now: now, using: &entropy)
            let presented = Envelope.cookieField(message.bytes)
            var valid = false
            for secret in usable {
                let value = CookieSecretRing.cookieValue(secret: secret, hostID: hostID)
                valid = constantTimeEquals(Envelope.cookie(of: message.bytes, cookieValue: value), presented) || valid
            }
            if !valid {
                let value = CookieSecretRing.cookieValue(secret: usable[0], hostID: hostID)
                let sealed = CookieReplySealing.seal(
                    cookieValue: value, cookieKey: keys.cookieKey,
                    nonce: entropy.bytes(XChaCha20Poly1305.nonceCount, for: .cookieReplyNonce),
                    initHelloMAC: Envelope.macField(message.bytes))
                let reply = CookieReply.encode(
                    layout: message.layout, sid: message.sidi, sealedCookie: sealed,
                    padding: entropy.bytes(CookieReply.paddingCount(message.layout), for: .cookieReplyPadding))
                state.cookieSecrets = secrets
                return HandleOutcome(reply: reply)
            }
        }
        // The MAC verified, so this InitHello costs McEliece work: it counts against the budgets,
        // whatever the outcome of the cryptographic checks.
        state.load.spend(at: now, policy: policy)
        state.sources.spend(source, at: now, policy: policy)

        let variant = message.layout.variant
        let staticShared = kems.decapsulateStatic(  // IHR5, once for both version tries
            variant, secretKey: keys.secretKey(variant).bytes, ciphertext: message.sctr)
        var failure = ProtocolError.authenticationFailed("InitHello: no version matched")
        for version in versions {
            do {
                return try respond(to: message, version: version, staticShared: staticShared, now: now, entropy: &entropy)
            } catch {
                if error.peer != nil || failure.peer == nil { failure = error }  // keep the one that named a peer
            }
        }
        throw failure
    }

    /// One version try of IHR1–IHR8, then RHR1–RHR7 when it succeeds; commits nothing on failure.
    private mutating func respond(
        to message: InitHello, version: ProtocolVersion, staticShared: SecretBytes, now: Seconds,
        entropy: inout some HandshakeEntropy
    ) throws(ProtocolError) -> HandleOutcome {
        let ours = keys.digests(version)
        var chain = ChainingKey(start: ours.chainingKeyStart, version: version)  // IHR1
        chain.mix(message.sidi.bytes)  // IHR4
        chain.mix(message.epki)
        entropy.record(.ihr4ChainingKey, chain)
        chain.mixEncapsulation(publicKey: keys.publicKey, sharedKey: staticShared, ciphertext: message.sctr)  // IHR5
        entropy.record(.ihr5ChainingKey, chain)
        // IHR6: failing here means the sender does not have our public key, or the envelope MAC
        // matched under a version the sender did not use.
        let pidi = try chain.decryptAndMix(message.pidiCiphertext, what: "InitHello peer id")
        entropy.record(.ihr6ChainingKey, chain)
        let peerID = PeerID(bytes: pidi.withUnsafeBytes { Array($0) })
        guard let index = state.peerIDIndex[peerID] else {
            if let index = peerUsingOtherVersion(peerID) {
                let configured = state.peers[index].version
                throw .unexpected(
                    "InitHello from \(PeerHandle(index: index)) under \(version), but \(configured) is configured",
                    reason: .versionMismatch, peer: index)
            }
            throw .authenticationFailed("InitHello from unknown peer id \(peerID)", reason: .unknownPeer)
        }
        let peer = state.peers[index]
        let peerKey = try publicKey(ofPeer: index)
        chain.mix(peerKey)  // IHR7
        chain.mix(peer.presharedKey)
        entropy.record(.ihr7ChainingKey, chain)
        do {
            _ = try chain.decryptAndMix(message.auth, what: "InitHello auth")  // IHR8
        } catch {
            throw error.attributed(to: index)
        }
        entropy.record(.ihr8ChainingKey, chain)
        guard version == peer.version else {
            throw .unexpected(
                "InitHello from \(PeerHandle(index: index)) under \(version), but \(peer.version) is configured",
                reason: .versionMismatch, peer: index)
        }

        let sidr = freshSessionID(using: &entropy)  // RHR1
        chain.mix(sidr.bytes)  // RHR3
        chain.mix(message.sidi.bytes)
        entropy.record(.rhr3ChainingKey, chain)
        let ephemeral = kems.encapsulateEphemeral(publicKey: message.epki, using: &entropy)  // RHR4
        chain.mixEncapsulation(publicKey: message.epki, sharedKey: ephemeral.sharedKey, ciphertext: ephemeral.ciphertext)
        entropy.record(.rhr4ChainingKey, chain)
        let variant = message.layout.variant
        let encapsulation = kems.encapsulateStatic(variant, publicKey: peerKey, using: &entropy)  // RHR5
        chain.mixEncapsulation(publicKey: peerKey, sharedKey: encapsulation.sharedKey, ciphertext: encapsulation.ciphertext)
        entropy.record(.rhr5ChainingKey, chain)

        var biscuitKeys = state.biscuitKeys  // RHR6
        let contents = BiscuitContents(peerID: peer.peerID, number: state.biscuitCounter, chainingKey: chain.value)
        contents.withPlaintext { entropy.record(.rhr6BiscuitPlaintext, $0) }
        let (slot, biscuitKey) = biscuitKeys.keyForIssuing(now: now, using: &entropy)
        let biscuit = contents.seal(
            key: biscuitKey, slot: slot, nonce: entropy.bytes(XChaCha20Poly1305.nonceCount, for: .biscuitNonce),
            associatedData: BiscuitContents.associatedData(
                prefix: keys.biscuitADPrefix(version), version: version, sidi: message.sidi, sidr: sidr))
        entropy.record(.rhr6BiscuitCiphertext, biscuit)
        chain.mix(biscuit)
        entropy.record(.rhr6ChainingKey, chain)
        let auth = chain.encryptAndMixEmpty()  // RHR7
        entropy.record(.rhr7ChainingKey, chain)

        var reply = RespHello.encode(
            layout: message.layout, sidr: sidr, sidi: message.sidi, ecti: ephemeral.ciphertext,
            scti: encapsulation.ciphertext, auth: auth, biscuit: biscuit)
        Envelope.sealMAC(&reply, macKey: try digests(ofPeer: index, publicKey: peerKey).macKey, version: version)  // cookie field stays zero

        let handle = PeerHandle(index: index)
        let activity: [PeerActivity] = [.answeredInitHello(peer: handle, variant: variant)]
        let issued = state.biscuitCounter
        state.biscuitKeys = biscuitKeys
        state.biscuitCounter.increment()
        let repairJitter = peer.pendingRepair.map { _ in entropy.unitInterval(for: .retransmitJitter) }
        updatePeer(index) { peer in
            peer.rememberAnswer(sidr: sidr, variant: variant)
            // The peer started a handshake after the collision: give it time to finish before repairing.
            if let floor = peer.pendingRepair?.biscuitFloor, issued >= floor, let repairJitter {
                peer.pendingRepair!.due = max(peer.pendingRepair!.due, now + peer.collisionRepairDelay(jitter: repairJitter))
            }
        }
        return HandleOutcome(reply: reply, activity: activity, peer: handle)
    }

    // MARK: InitConf

    /// InitConf: answered from the response cache, or ICR1–ICR7 then EmptyData.
    mutating func handleInitConf(
        _ message: InitConf, now: Seconds, entropy: inout some HandshakeEntropy
    ) throws(ProtocolError) -> HandleOutcome {
        let cacheKey = message.cacheKey
        if let index = state.responseCacheIndex[cacheKey], let cached = state.peers[index].cachedResponse,
            !reached(cached.expiresAt, now)
        {
            let peer = state.peers[index]
            guard Envelope.verifyMAC(message.bytes, macKey: keys.digests(peer.version).macKey, version: peer.version) else {
                throw .badMAC(.initConf, peer: index)
            }
            return HandleOutcome(reply: cached.emptyData, peer: PeerHandle(index: index))
        }

        let versions = versionsWithValidMAC(message.bytes)
        guard !versions.isEmpty else { throw .badMAC(.initConf) }
        var failure = ProtocolError.authenticationFailed("InitConf: no version matched")
        for version in versions {
            do {
                return try confirm(message, version: version, now: now, entropy: &entropy)
            } catch {
                if error.peer != nil || failure.peer == nil { failure = error }
            }
        }
        throw failure
    }

    /// One version try of ICR1–ICR7; commits nothing on failure. A valid new InitConf is always
    /// accepted; one that crossed a handshake of ours schedules a repair (`Peer-Collisions.swift`).
    private mutating func confirm(
        _ message: InitConf, version: ProtocolVersion, now: Seconds, entropy: inout some HandshakeEntropy
    ) throws(ProtocolError) -> HandleOutcome {
        let slot = BiscuitContents.slot(of: message.biscuit)  // ICR1
        let associatedData = BiscuitContents.associatedData(
            prefix: keys.biscuitADPrefix(version), version: version, sidi: message.sidi, sidr: message.sidr)
        let contents = try BiscuitContents.open(message.biscuit, key: state.biscuitKeys.key(slot: slot), associatedData: associatedData)
        guard let index = state.peerIDIndex[contents.peerID] else {
            throw .authenticationFailed("InitConf: the biscuit names unknown peer id \(contents.peerID)", reason: .unknownPeer)
        }
        let peer = state.peers[index]
        var chain = ChainingKey(resuming: contents.chainingKey, version: version)
        chain.mix(message.biscuit)
        _ = chain.encryptAndMixEmpty()  // ICR2: the RespHello auth again
        chain.mix(message.sidi.bytes)  // ICR3
        chain.mix(message.sidr.bytes)
        do {
            _ = try chain.decryptAndMix(message.auth, what: "InitConf auth")  // ICR4
        } catch {
            throw error.attributed(to: index)
        }
        guard contents.number > peer.biscuitUsed else {  // ICR5
            throw .unexpected("InitConf from \(PeerHandle(index: index)) with a biscuit already used", reason: .replay, peer: index)
        }
        guard version == peer.version else {
            throw .unexpected(
                "InitConf from \(PeerHandle(index: index)) under \(version), but \(peer.version) is configured",
                reason: .versionMismatch, peer: index)
        }
        if let owner = state.sessionIndex[message.sidr], owner != index {
            throw .unexpected(
                "InitConf: session id \(message.sidr) is already used by \(PeerHandle(index: owner))", reason: .other, peer: index)
        }

        var session = Session(chain: chain, role: .responder, sidi: message.sidi, sidr: message.sidr, now: now)  // ICR7
        let counter = session.txnm
        session.txnm += 1
        var emptyData = EmptyData.encode(
            sid: message.sidi, counter: counter, auth: Session.acknowledgementTag(key: session.txkm, counter: counter))
        Envelope.sealMAC(&emptyData, macKey: try digests(ofPeer: index).macKey, version: version)  // cached by the RespHello
        let cached = CachedResponse(receivedAt: now, initConfKey: message.cacheKey, emptyData: emptyData)
        let outputKey = session.outputKey(separator: peer.compressedSeparator, version: version)
        let handle = PeerHandle(index: index)
        let variant = peer.answeredVariant(sidr: message.sidr)
        var activity: [PeerActivity] = [.handshakeCompleted(peer: handle, role: .responder, variant: variant)]
        let crossed = peer.repairsCollisions && (peer.isRival(biscuit: contents.number) || peer.keyFollowsInitiatorKey(at: now))
        let repairDue = crossed ? now + peer.collisionRepairDelay(jitter: entropy.unitInterval(for: .retransmitJitter)) : nil
        let counterNow = state.biscuitCounter

        if let old = peer.cachedResponse { state.responseCacheIndex[old.initConfKey] = nil }
        state.responseCacheIndex[cached.initConfKey] = index
        updatePeer(index) { peer in
            peer.biscuitUsed = contents.number  // ICR6
            peer.session = session
            peer.handshake = nil  // finishing as responder stops our own initiation
            peer.cachedResponse = cached
            peer.lastResponderKeyAt = now
            if let variant, let learned = peer.learnVariant(variant) { activity.append(.variantLearned(peer: handle, variant: learned)) }
            if let repairDue {
                peer.pendingRepair = CollisionRepair(due: repairDue, biscuitFloor: counterNow)
            } else if let floor = peer.pendingRepair?.biscuitFloor, contents.number >= floor {
                peer.pendingRepair = nil  // a clean handshake after the collision: both ends output its key last
            }
        }
        if let repairDue { activity.append(.handshakesCrossed(peer: handle, repairAt: repairDue)) }
        return HandleOutcome(reply: emptyData, events: [.keyExchanged(peer: handle, outputKey: outputKey)], activity: activity, peer: handle)
    }
}

extension BiscuitContents {
    /// Calls `body` with the 76-byte plaintext (for trace hooks), wiping it afterwards.
    func withPlaintext(_ body: (UnsafeRawBufferPointer) -> Void) {
        var plaintext = peerID.bytes + number.littleEndianBytes
        chainingKey.withUnsafeBytes { plaintext.append(contentsOf: $0) }
        defer { secureZero(&plaintext) }
        plaintext.withUnsafeBytes(body)
    }
}
