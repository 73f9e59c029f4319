// In-memory handshakes: every version and McEliece format, mismatches, tampering and replays.

import RosenpassCrypto
import RosenpassTestSupport
import Testing

@testable import RosenpassProtocol

@Suite("In-memory handshakes", .serialized)
struct HandshakeTests {
    @Test(
        "V02/V03 × round 3/round 4: both sides end with the same key",
        arguments: [ProtocolVersion.v02, .v03], [McElieceVariant.round3, .round4])
    func completes(version: ProtocolVersion, variant: McElieceVariant) throws {
        var pair = try ServerPair(
            a: .init(version: version, initiatorVariant: variant), b: .init(version: version))
        let run = try pair.handshake(at: 0)
        let layout = MessageLayout(variant: variant)
        #expect(run.messages.map(\.count) == [layout.initHelloLength, layout.respHelloLength, 176, 64])
        let keyA = try #require(run.keyA)
        #expect(run.keyB == keyA && keyA.count == 32)
        #expect(pair.a.hasSession(with: ServerPair.peer) && pair.b.hasSession(with: ServerPair.peer))
        #expect(!pair.a.hasHandshake(with: ServerPair.peer), "EmptyData ends the initiator's handshake")
        #expect(pair.counterB["mceliece decaps"] == 1, "the responder decapsulates McEliece once")
        // A second handshake yields a different key.
        let again = try pair.handshake(at: 1)
        #expect(again.keyA == again.keyB && again.keyA != keyA)
    }

    @Test("whatever the layout of our secret key, a peer without mceliece_variant gets round 3 first, then the formats alternate")
    func defaultFormatIsRoundThree() throws {
        for keyVariant in McElieceVariant.allCases {
            let key = keyVariant == .round4 ? TestKeys.a.secretKey : StandardKEMs().convertStaticSecretKey(TestKeys.a.secretKey, from: .round4)
            var entropy = CountingEntropy()
            var server = try CryptoServer(secretKey: key, publicKey: TestKeys.a.publicKey, kems: StandardKEMs(), entropy: &entropy)
            #expect(server.secretKeyVariant == keyVariant && key.count == keyVariant.secretKeyCount)
            let peer = try server.addPeer(PeerConfiguration(publicKey: TestKeys.b.publicKey, version: .v02))
            #expect(server.initiatorVariant(of: peer) == .round3 && server.isProbingVariant(of: peer))
            let start = server.poll(now: 0, entropy: &entropy)
            let hello = try #require(start.messages.first?.message)
            #expect(hello.count == 1092, "round 3 first (layout \(keyVariant))")
            #expect(start.activity == [.handshakeStarted(peer: peer, variants: [.round3, .round4], reason: .noKey)])
            var sizes: [Int] = []
            var now = start.nextPoll
            for _ in 0..<4 {
                let due = server.poll(now: now, entropy: &entropy)
                let message = try #require(due.messages.first?.message)
                #expect(message[4..<8] == hello[4..<8], "one handshake, one sidi")
                sizes.append(message.count)
                now = due.nextPoll
            }
            #expect(sizes == [1060, 1092, 1060, 1092], "retransmissions alternate while the peer's format is unknown")
        }
    }

    @Test("a 13,608-byte secret key in the NIST layout (go-rosenpass, liboqs 0.9 and later) is a round-3 key: round-3 handshakes both ways with a 13,568-byte peer")
    func nistLayoutKeyServesRoundThree() throws {
        // TestKeys hold 13,608-byte keys made by liboqs (the reference vector's); the peer's key is
        // converted to the 13,568-byte layout that Rosenpass 0.2.x writes.
        let round3Layout = StandardKEMs().convertStaticSecretKey(TestKeys.b.secretKey, from: .round4)
        var entropyA = CountingEntropy(counter: 1)
        var entropyB = CountingEntropy(counter: 2)
        var a = try CryptoServer(secretKey: TestKeys.a.secretKey, publicKey: TestKeys.a.publicKey, kems: StandardKEMs(), entropy: &entropyA)
        var b = try CryptoServer(secretKey: round3Layout, publicKey: TestKeys.b.publicKey, kems: StandardKEMs(), entropy: &entropyB)
        #expect(a.secretKeyVariant == .round4 && b.secretKeyVariant == .round3)
        let peerOfA = try a.addPeer(PeerConfiguration(publicKey: TestKeys.b.publicKey, version: .v02, initiatorVariant: .round3))
        let peerOfB = try b.addPeer(PeerConfiguration(publicKey: TestKeys.a.publicKey, version: .v02, initiatorVariant: .round3))
        for aStarts in [true, false] {
            var message = aStarts
                ? try a.initiateHandshake(with: peerOfA, now: 0, entropy: &entropyA)
                : try b.initiateHandshake(with: peerOfB, now: 0, entropy: &entropyB)
            #expect(message.count == 1092)
            var keys: [Bool: Secret] = [:]
            var toA = !aStarts
            while true {
                let outcome = toA
                    ? try a.handle(datagram: message, from: ServerPair.hostB, now: 0, entropy: &entropyA)
                    : try b.handle(datagram: message, from: ServerPair.hostA, now: 0, entropy: &entropyB)
                for case .keyExchanged(_, let key) in outcome.events { keys[toA] = key }
                guard let reply = outcome.reply else { break }
                #expect(reply[0] != MessageType.respHello.rawValue || reply.count == 1132, "answered in round 3")
                message = reply
                toA.toggle()
            }
            #expect(keys[true] != nil && keys[true] == keys[false])
        }
    }

    @Test("a configured format is always used and never probed, in both directions of learning")
    func configuredFormatWins() throws {
        for variant in McElieceVariant.allCases {
            var pair = try ServerPair(a: .init(initiatorVariant: variant))
            #expect(!pair.a.isProbingVariant(of: ServerPair.peer) && pair.a.initiatorVariant(of: ServerPair.peer) == variant)
            // The peer uses the other format: we answer it, and still initiate in ours.
            var other = try ServerPair(a: .init(initiatorVariant: variant), b: .init(initiatorVariant: variant == .round3 ? .round4 : .round3))
            let fromB = try other.b.initiateHandshake(with: ServerPair.peer, now: 0, entropy: &other.entropyB)
            let resp = try #require(try other.toA(fromB, at: 0).reply)
            let conf = try #require(try other.toB(resp, at: 0).reply)
            let done = try other.toA(conf, at: 0)
            #expect(done.events.count == 1 && !done.activity.contains { if case .variantLearned = $0 { return true } else { return false } })
            #expect(other.a.initiatorVariant(of: ServerPair.peer) == variant)
            let run = try pair.handshake(at: 1)
            #expect(run.messages[0].count == MessageLayout(variant: variant).initHelloLength && run.keyA == run.keyB)
        }
    }

    @Test("a peer that answers only round 4 answers the alternate InitHello; from then on we initiate in round 4, said once")
    func learnsRoundFourFromRespHello() throws {
        var pair = try ServerPair(b: .init(initiatorVariant: .round4))
        let first = pair.a.poll(now: 0, entropy: &pair.entropyA)
        let hello3 = try #require(first.messages.first?.message)
        #expect(hello3.count == 1092)
        // The peer drops the round-3 copy (a round-4-only implementation reads no other length);
        // the first retransmission is the round-4 copy.
        let retry = pair.a.poll(now: first.nextPoll, entropy: &pair.entropyA)
        let hello4 = try #require(retry.messages.first?.message)
        #expect(hello4.count == 1060 && retry.activity == [.retransmitted(peer: ServerPair.peer, message: .initHello, count: 1)])
        let resp = try #require(try pair.toB(hello4, at: 0.5).reply)
        #expect(resp.count == 1100)
        let confirmed = try pair.toA(resp, at: 0.5)
        #expect(confirmed.activity.contains(.variantLearned(peer: ServerPair.peer, variant: .round4)))
        #expect(confirmed.activity.contains(.handshakeCompleted(peer: ServerPair.peer, role: .initiator, variant: .round4)))
        _ = try pair.toB(try #require(confirmed.reply), at: 0.5)
        #expect(pair.a.initiatorVariant(of: ServerPair.peer) == .round4 && !pair.a.isProbingVariant(of: ServerPair.peer))
        let again = try pair.handshake(at: 200)
        #expect(again.messages[0].count == 1060 && again.keyA == again.keyB)
    }

    @Test("a peer whose handshake to us uses round 4 is initiated to in round 4, but only once its InitConf proves the InitHello was not a replay")
    func learnsRoundFourFromInitHello() throws {
        var pair = try ServerPair(b: .init(initiatorVariant: .round4))
        let hello = try pair.b.initiateHandshake(with: ServerPair.peer, now: 0, entropy: &pair.entropyB)
        let resp = try #require(try pair.toA(hello, at: 0).reply)
        #expect(pair.a.initiatorVariant(of: ServerPair.peer) == .round3, "an InitHello alone teaches nothing")
        // A replay of the same InitHello later is answered, but teaches nothing either.
        _ = try pair.toA(hello, at: 1)
        #expect(pair.a.isProbingVariant(of: ServerPair.peer))
        let conf = try #require(try pair.toB(resp, at: 0).reply)
        let done = try pair.toA(conf, at: 0)
        #expect(done.activity.contains(.variantLearned(peer: ServerPair.peer, variant: .round4)))
        #expect(done.activity.contains(.handshakeCompleted(peer: ServerPair.peer, role: .responder, variant: .round4)))
        #expect(pair.a.initiatorVariant(of: ServerPair.peer) == .round4)
        let back = try pair.handshake(at: 130)
        #expect(back.messages[0].count == 1060 && back.keyA == back.keyB)
        // A later round-3 handshake from the peer switches us back, and says so.
        var round3 = try ServerPair(b: .init(initiatorVariant: .round3))
        round3.a.state.peers[0].learnedVariant = .round4
        let run = try round3.b.initiateHandshake(with: ServerPair.peer, now: 0, entropy: &round3.entropyB)
        let resp3 = try #require(try round3.toA(run, at: 0).reply)
        let conf3 = try #require(try round3.toB(resp3, at: 0).reply)
        #expect(try round3.toA(conf3, at: 0).activity.contains(.variantLearned(peer: ServerPair.peer, variant: .round3)))
    }

    @Test("a round-3 peer learned in round 3: no message, no more probing")
    func learnsRoundThreeQuietly() throws {
        var pair = try ServerPair(b: .init(initiatorVariant: .round3))
        let run = try pair.handshake(at: 0)
        #expect(run.messages[0].count == 1092 && run.keyA == run.keyB)
        #expect(pair.a.state.peers[0].learnedVariant == .round3 && !pair.a.isProbingVariant(of: ServerPair.peer))
    }

    @Test("mismatched PSKs or versions end with no key; mismatched OSK separators with different keys")
    func mismatches() throws {
        var psk = try ServerPair(a: .init(psk: [UInt8](repeating: 1, count: 32)), b: .init(psk: nil))
        let hello = try psk.a.initiateHandshake(with: ServerPair.peer, now: 0, entropy: &psk.entropyA)
        let before = psk.b.state
        #expect(throws: ProtocolError.self) { try psk.toB(hello, at: 0) }
        #expect(psk.b.state.peers == before.peers && !psk.b.hasSession(with: ServerPair.peer))

        for (versionA, versionB) in [(ProtocolVersion.v02, ProtocolVersion.v03), (.v03, .v02)] {
            var pair = try ServerPair(a: .init(version: versionA), b: .init(version: versionB))
            let hello = try pair.a.initiateHandshake(with: ServerPair.peer, now: 0, entropy: &pair.entropyA)
            #expect(throws: ProtocolError.self) { try pair.toB(hello, at: 0) }
            #expect(!pair.b.hasSession(with: ServerPair.peer))
        }

        var separators = try ServerPair(b: .init(separator: OutputKeyDomainSeparator(organization: "example.org", labels: ["other"])))
        let run = try separators.handshake(at: 0)
        #expect(run.keyA != nil && run.keyB != nil && run.keyA != run.keyB)
        var custom = try ServerPair(
            a: .init(separator: OutputKeyDomainSeparator(organization: "example.org", labels: ["vpn", "psk"])),
            b: .init(separator: OutputKeyDomainSeparator(organization: "example.org", labels: ["vpn", "psk"])))
        let same = try custom.handshake(at: 0)
        #expect(same.keyA != nil && same.keyA == same.keyB)
    }

    /// Every single-byte flip, a truncation and an extension of each message is rejected and leaves
    /// the receiver's whole state unchanged. The envelope's cookie field is outside the MAC and is
    /// never checked unless the responder is under load (`docs/protocol.md` §3.8, §11 point 18), so flips
    /// there are processed as the untouched message would be; they are left out here.
    @Test("tampered, truncated or extended messages are rejected without any change of state")
    func tampering() throws {
        var pair = try ServerPair()
        let hello = try pair.a.initiateHandshake(with: ServerPair.peer, now: 0, entropy: &pair.entropyA)
        try expectRejections(of: hello, uncheckedCookie: true) { message in try pair.toB(message, at: 0) } state: { pair.b.state }

        let resp = try #require(try pair.toB(hello, at: 0).reply)
        try expectRejections(of: resp, uncheckedCookie: true) { message in try pair.toA(message, at: 0) } state: { pair.a.state }

        let conf = try #require(try pair.toA(resp, at: 0).reply)
        try expectRejections(of: conf, uncheckedCookie: true) { message in try pair.toB(message, at: 0) } state: { pair.b.state }

        let empty = try #require(try pair.toB(conf, at: 0).reply)
        try expectRejections(of: empty, uncheckedCookie: true) { message in try pair.toA(message, at: 0) } state: { pair.a.state }
        _ = try pair.toA(empty, at: 0)
        #expect(!pair.a.hasHandshake(with: ServerPair.peer))
    }

    @Test("replays: a duplicate RespHello is dropped, a repeated InitConf is answered from the cache, a used biscuit is refused")
    func replays() throws {
        var pair = try ServerPair()
        let hello = try pair.a.initiateHandshake(with: ServerPair.peer, now: 0, entropy: &pair.entropyA)
        let resp = try #require(try pair.toB(hello, at: 0).reply)
        // A retransmitted InitHello gets a new RespHello (new sidr, new biscuit).
        let secondResp = try #require(try pair.toB(hello, at: 0.3).reply)
        #expect(secondResp[4..<8] != resp[4..<8])
        let conf = try #require(try pair.toA(resp, at: 0).reply)
        let stateA = pair.a.state
        #expect(throws: ProtocolError.self) { try pair.toA(resp, at: 0.1) }
        #expect(throws: ProtocolError.self) { try pair.toA(secondResp, at: 0.1) }
        #expect(pair.a.state == stateA)

        let first = try pair.toB(conf, at: 0)
        #expect(first.events.count == 1)
        let stateB = pair.b.state
        var retransmitted = conf
        retransmitted[170] ^= 0xFF  // the cookie field may change between retransmissions
        let cached = try pair.toB(retransmitted, at: 5)
        #expect(cached.reply == first.reply && cached.events.isEmpty)
        #expect(pair.b.state == stateB)

        _ = pair.b.poll(now: 121, entropy: &pair.entropyB)  // the cache entry expires
        let afterPoll = pair.b.state
        #expect(afterPoll.peers[0].cachedResponse == nil)
        #expect(throws: ProtocolError.self) { try pair.toB(conf, at: 121) }
        #expect(pair.b.state == afterPoll)
    }

    @Test("a removed peer: its session and handshake end, its datagrams are dropped as a stranger's, no timer starts a handshake; added again, it starts afresh and no InitConf from before opens a session")
    func removedPeer() throws {
        var pair = try ServerPair()
        let hello = try pair.a.initiateHandshake(with: ServerPair.peer, now: 0, entropy: &pair.entropyA)
        let resp = try #require(try pair.toB(hello, at: 0).reply)
        let conf = try #require(try pair.toA(resp, at: 0).reply)
        _ = try pair.toB(conf, at: 0)
        #expect(pair.b.hasSession(with: ServerPair.peer))
        let sessionsBefore = pair.b.state.sessionIndex.count

        try pair.b.removePeer(ServerPair.peer)
        #expect(pair.b.isRemoved(ServerPair.peer) && !pair.b.hasSession(with: ServerPair.peer))
        #expect(pair.b.state.sessionIndex.count == sessionsBefore - 1 && pair.b.state.peerIDIndex.isEmpty)
        #expect(pair.b.state.responseCacheIndex.isEmpty && pair.b.state.peers[0].key == nil)
        #expect(throws: ProtocolError.self) { try pair.b.initiateHandshake(with: ServerPair.peer, now: 1, entropy: &pair.entropyB) }
        #expect(throws: ProtocolError.self) { try pair.b.removePeer(ServerPair.peer) }
        let again = try pair.a.initiateHandshake(with: ServerPair.peer, now: 1, entropy: &pair.entropyA)
        do {
            _ = try pair.toB(again, at: 1)
            Issue.record("a removed peer's InitHello was answered")
        } catch {
            #expect((error as? ProtocolError)?.reason == .unknownPeer)
        }
        #expect(pair.b.poll(now: 500, entropy: &pair.entropyB).messages.isEmpty, "no handshake with a removed peer")

        let readded = try pair.b.addPeer(
            PeerConfiguration(publicKey: TestKeys.a.publicKey, presharedKey: SecretBytes([UInt8](repeating: 0x42, count: 32)), version: .v03))
        #expect(readded == PeerHandle(index: 1) && !pair.b.hasSession(with: readded))
        do {
            _ = try pair.toB(conf, at: 2)
            Issue.record("an InitConf from before the peer was added again opened a session")
        } catch {
            #expect((error as? ProtocolError)?.reason == .replay)
        }
        let fresh = try pair.a.initiateHandshake(with: ServerPair.peer, now: 3, entropy: &pair.entropyA)
        let freshResp = try #require(try pair.toB(fresh, at: 3).reply)
        let freshConf = try #require(try pair.toA(freshResp, at: 3).reply)
        let done = try pair.toB(freshConf, at: 3)
        #expect(done.events.count == 1 && pair.b.hasSession(with: readded))
    }

    @Test("a biscuit stays valid while its key lives; once the key is erased (600 s) the InitConf is refused")
    func biscuitExpiry() throws {
        for (delay, accepted) in [(299.0, true), (600.0, false)] {
            var pair = try ServerPair(b: .init(initiates: false))
            let hello = try pair.a.initiateHandshake(with: ServerPair.peer, now: 0, entropy: &pair.entropyA)
            let resp = try #require(try pair.toB(hello, at: 0).reply)
            let conf = try #require(try pair.toA(resp, at: 0).reply)
            #expect(pair.b.poll(now: delay, entropy: &pair.entropyB).messages.isEmpty)
            let before = pair.b.state
            if accepted {
                #expect(try pair.toB(conf, at: delay).events.count == 1)
            } else {
                #expect(throws: ProtocolError.self) { try pair.toB(conf, at: delay) }
                #expect(pair.b.state == before)
            }
        }
    }

    @Test("peer ids are per version; duplicate peers and bad key sizes are refused")
    func configuration() throws {
        var entropy = CountingEntropy()
        var server = try CryptoServer(secretKey: TestKeys.a.secretKey, publicKey: TestKeys.a.publicKey, kems: StandardKEMs(), entropy: &entropy)
        let v02 = try server.addPeer(PeerConfiguration(publicKey: TestKeys.b.publicKey, version: .v02))
        let v03 = try server.addPeer(PeerConfiguration(publicKey: TestKeys.b.publicKey, version: .v03))
        #expect(server.peerID(of: v02) != server.peerID(of: v03))
        #expect(server.peerID(of: v03).base64.count == 44)
        #expect(throws: ProtocolError.self) { try server.addPeer(PeerConfiguration(publicKey: TestKeys.b.publicKey, version: .v03)) }
        #expect(throws: ProtocolError.self) { try server.addPeer(PeerConfiguration(publicKey: [1, 2, 3], version: .v03)) }
        #expect(throws: ProtocolError.self) {
            try server.addPeer(PeerConfiguration(publicKey: TestKeys.a.publicKey, presharedKey: SecretBytes([1]), version: .v03))
        }
        #expect(throws: ProtocolError.self) {
            try CryptoServer(secretKey: SecretBytes([1, 2]), publicKey: TestKeys.a.publicKey, kems: StandardKEMs(), entropy: &entropy)
        }
        #expect(throws: ProtocolError.self) { try server.initiateHandshake(with: PeerHandle(index: 9), now: 0, entropy: &entropy) }
    }
}

/// Checks that every single-byte flip (outside an unchecked cookie field), a truncation and an
/// extension of `message` is rejected with no change of `state()`.
func expectRejections(
    of message: [UInt8], uncheckedCookie: Bool, _ handle: ([UInt8]) throws -> HandleOutcome, state: () -> ServerState,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let before = state()
    let cookie = Envelope.cookieOffset(message.count)..<message.count
    var variants: [[UInt8]] = [Array(message.dropLast()), message + [0], []]
    for index in message.indices where !(uncheckedCookie && cookie.contains(index)) {
        var flipped = message
        flipped[index] ^= 1 << UInt8(index % 8)
        variants.append(flipped)
    }
    for (number, variant) in variants.enumerated() {
        do {
            let outcome = try handle(variant)
            Issue.record("variant \(number) of a \(message.count)-byte message was accepted: \(outcome.events)", sourceLocation: sourceLocation)
        } catch {}
        if state() != before {
            Issue.record("variant \(number) of a \(message.count)-byte message changed the state", sourceLocation: sourceLocation)
            return
        }
    }
}
