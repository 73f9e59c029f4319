// Timers and DoS cookies driven by a fake clock (docs/protocol.md §5, §6; docs/dos-cookies.md).

import RosenpassCrypto
import RosenpassTestSupport
import Testing

@testable import RosenpassProtocol

@Suite("Timers", .serialized)
struct TimerTests {
    @Test("a peer is initiated at start-up and retransmitted within the jitter bounds until 180 s")
    func retransmissions() throws {
        var pair = try ServerPair(a: .init(initiatorVariant: .round4))
        let start = pair.a.poll(now: 0, entropy: &pair.entropyA)
        #expect(start.messages.count == 1 && start.messages[0].message.count == 1060)
        let hello = start.messages[0].message
        var now = 0.0
        var wake = start.nextPoll
        let bounds: [(Double, Double)] = [(0.25, 0.5), (0.5, 1), (1, 2), (2, 4), (4, 8), (5, 10), (5, 10), (5, 10)]
        for (low, high) in bounds {
            let gap = wake - now
            #expect(gap >= low - 1e-9 && gap < high, "retransmission gap \(gap) outside [\(low), \(high))")
            #expect(pair.a.poll(now: wake - 0.01, entropy: &pair.entropyA).messages.isEmpty)
            now = wake
            let due = pair.a.poll(now: now, entropy: &pair.entropyA)
            #expect(due.messages.count == 1)
            #expect(due.messages.first?.message == hello, "InitHello retransmitted unchanged (same MAC and cookie value)")
            wake = due.nextPoll
        }
        var last = hello
        while wake < 180 {
            now = wake
            let due = pair.a.poll(now: now, entropy: &pair.entropyA)
            last = due.messages.last?.message ?? last
            wake = due.nextPoll
        }
        #expect(wake == 180, "the handshake is given up 180 s after it began")
        let restart = pair.a.poll(now: 180, entropy: &pair.entropyA)
        #expect(restart.messages.count == 1 && restart.messages[0].message[4..<8] != hello[4..<8], "a new handshake with a new sidi")
    }

    @Test("jitter extremes: U = 0 gives 50 % and U → 1 gives almost 100 % of the nominal delay")
    func jitterExtremes() throws {
        for (jitter, factor) in [(0.0, 0.5), (0.999_999, 1.0)] {
            var pair = try ServerPair()
            pair.entropyA.jitter = jitter
            let first = pair.a.poll(now: 10, entropy: &pair.entropyA)
            #expect(abs((first.nextPoll - 10) - 0.5 * factor) < 1e-5)
            let second = pair.a.poll(now: first.nextPoll, entropy: &pair.entropyA)
            #expect(abs((second.nextPoll - first.nextPoll) - 1.0 * factor) < 1e-5)
        }
    }

    @Test("rekey at 120 s as responder and 130 s as initiator; the key is stale at 180 s")
    func rekeyAndStale() throws {
        var pair = try ServerPair()
        let run = try pair.handshake(at: 1000)
        #expect(run.keyA != nil)
        // Neither side starts anything before its rekey time.
        #expect(pair.b.poll(now: 1119.99, entropy: &pair.entropyB).messages.isEmpty)
        #expect(pair.a.poll(now: 1129.99, entropy: &pair.entropyA).messages.isEmpty)
        let responderRekey = pair.b.poll(now: 1120, entropy: &pair.entropyB)
        #expect(responderRekey.messages.count == 1 && responderRekey.messages[0].message[0] == 0x81)
        let initiatorRekey = pair.a.poll(now: 1130, entropy: &pair.entropyA)
        #expect(initiatorRekey.messages.count == 1 && initiatorRekey.messages[0].message[0] == 0x81)
        #expect(pair.a.poll(now: 1179.99, entropy: &pair.entropyA).events.isEmpty)
        let stale = pair.a.poll(now: 1180, entropy: &pair.entropyA)
        #expect(stale.events == [.keyStale(peer: ServerPair.peer)])
        #expect(!pair.a.hasSession(with: ServerPair.peer))
    }

    @Test("finishing as responder replaces the session and stops our own initiation; the roles alternate")
    func rolesAlternate() throws {
        var pair = try ServerPair()
        _ = try pair.handshake(at: 0)
        // B's session (responder role) is due at 120 s: B initiates, A responds and drops nothing of its own.
        let hello = try #require(pair.b.poll(now: 120, entropy: &pair.entropyB).messages.first?.message)
        _ = pair.a.poll(now: 120, entropy: &pair.entropyA)
        let resp = try #require(try pair.a.handle(datagram: hello, from: ServerPair.hostB, now: 120, entropy: &pair.entropyA).reply)
        let conf = try #require(try pair.b.handle(datagram: resp, from: ServerPair.hostA, now: 120, entropy: &pair.entropyB).reply)
        let done = try pair.a.handle(datagram: conf, from: ServerPair.hostB, now: 120, entropy: &pair.entropyA)
        #expect(done.events.count == 1)
        #expect(pair.a.state.peers[0].session?.role == .responder)
        // Now A is the one to rekey first, at 240 s.
        #expect(pair.a.poll(now: 239.9, entropy: &pair.entropyA).messages.isEmpty)
        #expect(pair.a.poll(now: 240, entropy: &pair.entropyA).messages.count == 1)
    }

    @Test("a peer that does not initiate only responds")
    func passivePeer() throws {
        var pair = try ServerPair(a: .init(initiates: false))
        let idle = pair.a.poll(now: 0, entropy: &pair.entropyA)
        #expect(idle.messages.isEmpty && idle.nextPoll == TimerConstants.unending)
        try pair.a.setInitiates(true, for: ServerPair.peer)
        #expect(pair.a.poll(now: 1, entropy: &pair.entropyA).messages.count == 1)
    }
}

@Suite("DoS cookies", .serialized)
struct CookieTests {
    static let tight = LoadPolicy(burst: 1, handlingsPerSecond: 0.01)

    @Test("under load an InitHello gets a CookieReply without McEliece work; the retransmission with the cookie completes")
    func cookieFlow() throws {
        var pair = try ServerPair(a: .init(initiatorVariant: .round4), b: .init(loadPolicy: Self.tight))
        _ = try pair.handshake(at: 0)  // spends the only token
        #expect(pair.b.state.load.isUnderLoad(at: 1, policy: Self.tight))
        let decapsBefore = pair.counterB["mceliece decaps"]

        let hello = try pair.a.initiateHandshake(with: ServerPair.peer, now: 1, entropy: &pair.entropyA)
        let peersBefore = pair.b.state.peers
        let counterBefore = pair.b.state.biscuitCounter
        let cookieReply = try #require(try pair.toB(hello, at: 1).reply)
        try #require(cookieReply.first == 0x86 && cookieReply.count == 1060, "a CookieReply, padded to the InitHello's size")
        #expect(pair.counterB["mceliece decaps"] == decapsBefore, "no McEliece work for an InitHello without cookie")
        #expect(pair.b.state.peers == peersBefore && pair.b.state.biscuitCounter == counterBefore)

        try expectCookieReplyRejections(cookieReply, pair: &pair)
        let retransmission = try #require(try pair.toA(cookieReply, at: 1.01).reply)
        try #require(retransmission.count == hello.count)
        #expect(retransmission[0..<1044] == hello[0..<1044], "same InitHello and MAC")
        #expect(retransmission[1044...] != hello[1044...], "a new cookie")
        let resp = try #require(try pair.toB(retransmission, at: 1.02).reply)
        #expect(resp[0] == 0x82)
        let conf = try #require(try pair.toA(resp, at: 1.03).reply)
        let done = try pair.toB(conf, at: 1.04)
        #expect(done.events.count == 1 && done.reply?.count == 64)

        // The cookie is bound to the sender's address.
        #expect(try pair.toB(retransmission, at: 1.05, from: [9, 9, 9]).reply?.first == 0x86)
    }

    @Test("a flood of InitHellos from other addresses does not lock out an honest peer or its own handshakes")
    func honestPeerNotLockedOut() throws {
        var pair = try ServerPair(b: .init(loadPolicy: LoadPolicy(burst: 4, handlingsPerSecond: 2)))
        let captured = try pair.a.initiateHandshake(with: ServerPair.peer, now: 0, entropy: &pair.entropyA)
        var now = 0.0
        var cookieReplies = 0
        var processed = 0
        for i in 0..<400 {
            now = Double(i) * 0.005
            let outcome = try pair.toB(captured, at: now, from: [UInt8(i & 0xFF), UInt8(i >> 8), 7])
            if outcome.reply?.first == 0x86 { cookieReplies += 1 } else { processed += 1 }
        }
        #expect(processed <= 4 + 2 * 2 + 1, "the budget bounds McEliece work during the flood")
        #expect(cookieReplies >= 390)

        // The honest initiator completes one round trip later, with its cookie.
        let hello = try pair.a.initiateHandshake(with: ServerPair.peer, now: now, entropy: &pair.entropyA)
        let reply = try #require(try pair.toB(hello, at: now).reply)
        let resp: [UInt8]
        if reply[0] == 0x86 {
            let retransmission = try #require(try pair.toA(reply, at: now).reply)
            resp = try #require(try pair.toB(retransmission, at: now).reply)
        } else {
            resp = reply
        }
        let conf = try #require(try pair.toA(resp, at: now).reply)
        #expect(try pair.toB(conf, at: now).events.count == 1)

        // While under load, B still completes its own handshake as initiator (no self-inflicted #539).
        #expect(pair.b.state.load.isUnderLoad(at: now, policy: pair.b.loadPolicy))
        let ownHello = try pair.b.initiateHandshake(with: ServerPair.peer, now: now, entropy: &pair.entropyB)
        let ownResp = try #require(try pair.toA(ownHello, at: now).reply)
        let ownConf = try #require(try pair.b.handle(datagram: ownResp, from: ServerPair.hostA, now: now, entropy: &pair.entropyB).reply)
        let ownEmpty = try #require(try pair.toA(ownConf, at: now).reply)
        _ = try pair.b.handle(datagram: ownEmpty, from: ServerPair.hostA, now: now, entropy: &pair.entropyB)
        #expect(!pair.b.hasHandshake(with: ServerPair.peer))
    }

    /// Issue 12: a sender that solves cookies (anyone with our public key can) had every InitHello
    /// processed; honest handshakes finished only seconds after such a flood stopped.
    @Test("a cookie-solving flood from one source gets its small share under load; an honest peer from another source completes at once")
    func cookieSolvingFloodIsLimitedPerSource() throws {
        let policy = LoadPolicy(burst: 4, handlingsPerSecond: 2, sourceBurst: 3, sourceHandlingsPerSecond: 1)
        var pair = try ServerPair(b: .init(loadPolicy: policy))
        let attacker: [UInt8] = [192, 0, 2, 66, 0x30, 0x39]
        let attackerSource = SourceKey(ipv4: 0xC000_0242)
        // The attacker's InitHello (a replayed one of A's: its MAC is valid, its work is real).
        var probe = try pair.a.initiateHandshake(with: ServerPair.peer, now: 0, entropy: &pair.entropyA)
        // Other senders put the responder under load first; then the attacker, with a full bucket of
        // its own, is asked for a cookie, solves it, and floods with it.
        for i in 0..<8 { _ = try? pair.b.handle(datagram: probe, from: [10, 0, 0, UInt8(i)], now: 0, entropy: &pair.entropyB) }
        #expect(pair.b.state.load.isUnderLoad(at: 0, policy: policy))
        var now = 0.0
        var cookieSolved = false
        var expensive = 0
        var refusedEarly = 0
        for i in 0..<3000 {
            now = Double(i) * 0.001  // 1000 a second for 3 s
            do {
                let outcome = try pair.b.handle(datagram: probe, from: attacker, source: attackerSource, now: now, entropy: &pair.entropyB)
                if outcome.reply?.first == 0x86 {
                    // Solve it, as an honest initiator would: A's server opens it and refills the cookie.
                    probe = try #require(try pair.toA(outcome.reply!, at: now).reply)
                    cookieSolved = true
                } else {
                    expensive += 1
                }
            } catch let error as ProtocolError {
                if error.reason == .rateLimited { refusedEarly += 1 } else { expensive += 1 }
            }
        }
        #expect(cookieSolved, "the attacker held a valid cookie")
        // Without the source budget every cookie-bearing InitHello would cost McEliece work (~3000).
        #expect(expensive <= 4 + 2 * 3 + 3 + 1 * 3 + 2, "\(expensive) expensive handlings")
        #expect(refusedEarly >= 2900, "refused before any cryptography: \(refusedEarly)")
        #expect(pair.b.refusesInitHello(from: attackerSource, now: now))

        // The honest peer, from another source, completes its handshake at once.
        let hello = try pair.a.initiateHandshake(with: ServerPair.peer, now: now, entropy: &pair.entropyA)
        #expect(!pair.b.refusesInitHello(from: SourceKey(identifier: ServerPair.hostA), now: now))
        var reply = try #require(try pair.toB(hello, at: now).reply)
        if reply[0] == 0x86 {
            let retransmission = try #require(try pair.toA(reply, at: now).reply)
            reply = try #require(try pair.toB(retransmission, at: now).reply)
        }
        let conf = try #require(try pair.toA(reply, at: now).reply)
        #expect(try pair.toB(conf, at: now).events.count == 1)
    }

    @Test("per-source budgets: a source's bucket refills, a full table forgets idle sources, nothing is refused without load")
    func sourceBudgets() {
        let policy = LoadPolicy(sourceBurst: 2, sourceHandlingsPerSecond: 1, trackedSources: 3)
        var budgets = SourceBudgets()
        let a = SourceKey(ipv4: 1)
        budgets.spend(a, at: 0, policy: policy)
        budgets.spend(a, at: 0, policy: policy)
        #expect(!budgets.allows(a, at: 0.5, policy: policy) && budgets.allows(a, at: 1, policy: policy))
        for n in 2...3 { budgets.spend(SourceKey(ipv4: UInt32(n)), at: 0, policy: policy) }
        #expect(budgets.count == 3)
        #expect(!budgets.allows(SourceKey(ipv4: 9), at: 0.5, policy: policy), "a full table of busy sources")
        #expect(budgets.allows(SourceKey(ipv4: 9), at: 3, policy: policy), "the others have refilled and can be forgotten")
        budgets.spend(SourceKey(ipv4: 9), at: 3, policy: policy)
        #expect(budgets.count <= 3)
        #expect(SourceKey(ipv4: 1) != SourceKey(ipv6Prefix: 1), "families never collide")
    }

    @Test("with cookies disabled, InitHellos are always processed")
    func disabled() throws {
        var pair = try ServerPair(b: .init(loadPolicy: LoadPolicy(cookiesEnabled: false, burst: 1, handlingsPerSecond: 0.01)))
        for i in 0..<3 {
            let hello = try pair.a.initiateHandshake(with: ServerPair.peer, now: Double(i), entropy: &pair.entropyA)
            #expect(try pair.toB(hello, at: Double(i)).reply?.first == 0x82)
        }
    }

    /// CookieReply has no MAC: bytes 4..<64 (sid, nonce, sealed cookie) are checked, the reserved
    /// bytes and the padding are ignored (`docs/protocol.md` §3.9).
    func expectCookieReplyRejections(_ reply: [UInt8], pair: inout ServerPair) throws {
        let before = pair.a.state
        var variants: [[UInt8]] = [Array(reply.dropLast()), reply + [0]]
        for index in 4..<64 {
            var flipped = reply
            flipped[index] ^= 0x80
            variants.append(flipped)
        }
        for variant in variants {
            #expect(throws: ProtocolError.self) { try pair.toA(variant, at: 1) }
            #expect(pair.a.state == before)
        }
    }
}

@Suite("Suspend and resume")
struct SuspendTests {
    @Test("an initiator resumed after an hour finds its key stale and starts a handshake in the same step; the keys agree again after it")
    func resumedInitiatorRekeysAtOnce() throws {
        // A is a laptop (it initiates), B a server that only responds. The daemon's clock counts
        // suspended time (CLOCK_BOOTTIME), so the first poll after the resume sees the hour.
        var pair = try ServerPair(b: .init(initiates: false))
        let first = try pair.handshake(at: 1000)
        #expect(first.keyA != nil && first.keyA == first.keyB)
        // While A sleeps, B's session goes stale: B's WireGuard gets a random key.
        #expect(pair.b.poll(now: 1180, entropy: &pair.entropyB).events == [.keyStale(peer: ServerPair.peer)])

        let resumed = pair.a.poll(now: 4600, entropy: &pair.entropyA)
        #expect(resumed.events == [.keyStale(peer: ServerPair.peer)])
        #expect(resumed.messages.count == 1 && resumed.messages.first?.message.first == MessageType.initHello.rawValue)

        var keyA: Secret?
        var keyB: Secret?
        var message = resumed.messages[0].message
        var toResponder = true
        while true {
            let outcome = toResponder ? try pair.toB(message, at: 4600.1) : try pair.toA(message, at: 4600.1)
            for case .keyExchanged(_, let key) in outcome.events {
                if toResponder { keyB = key } else { keyA = key }
            }
            guard let reply = outcome.reply else { break }
            message = reply
            toResponder.toggle()
        }
        #expect(keyA != nil && keyA == keyB && keyA != first.keyA)
    }
}
