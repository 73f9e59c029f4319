// Simultaneous initiation: every interleaving ends with one session at both ends, and the keys stay
// equal afterwards (`protocol.md` §5.3, `components.md` §9 item 16, `Peer-SimultaneousInitiation.swift`).
//
// "High" is the end whose peer id is greater (it outranks the other), "low" the other. Each scenario
// runs twice: with server A as the high end and with server B as the high end (the key pairs swapped).

import RosenpassCrypto
import RosenpassTestSupport
import Testing

@testable import RosenpassProtocol

/// Runs both ends for 400 s more on a clean link: the keys agree whenever the link is quiet, the
/// roles alternate (one end rekeys at a time, so no further collisions), and the low end never
/// declines anything.
func expectStable(_ duel: Duel, from start: Seconds, sourceLocation: SourceLocation = #_sourceLocation) throws {
    var link = LinkSimulation(duel, from: start)
    try link.run(until: start + 400)
    #expect(link.disagreements.isEmpty, "\(link.disagreements)", sourceLocation: sourceLocation)
    #expect(link.quietChecks >= 4, "the state right away and after each of three rekeys", sourceLocation: sourceLocation)
    #expect(link.collisions == 0, "the roles alternate", sourceLocation: sourceLocation)
    #expect(link.initiations[.high]! >= 1 && link.initiations[.low]! >= 1, "\(link.initiations)", sourceLocation: sourceLocation)
    #expect(link.duel.declines[.low] == 0 && link.duel.staleEvents == 0, sourceLocation: sourceLocation)
}

/// The first half of a collision: both ends initiate at 0 and each answers the other's InitHello.
/// Returns (the RespHello for the high end, the RespHello for the low end).
func bothInitiate(_ duel: inout Duel) throws -> (forHigh: [UInt8], forLow: [UInt8]) {
    let helloHigh = try duel.initiate(.high, at: 0)
    let helloLow = try duel.initiate(.low, at: 0)
    let forHigh = try #require(try duel.deliver(helloHigh, to: .low, at: 0.01).reply)
    let forLow = try #require(try duel.deliver(helloLow, to: .high, at: 0.01).reply)
    return (forHigh, forLow)
}

@Suite("Simultaneous initiation", .serialized)
struct SimultaneousInitiationTests {
    static let keyOrders = [false, true]
    /// Key orders and seeds of the long runs.
    static let longRuns: [(Bool, UInt64)] = (0..<8).map { (i: Int) -> (Bool, UInt64) in (i % 2 == 0, UInt64(i) * 7919 + 11) }

    @Test("the rank: the end with the greater peer id outranks, under each version; equal ids outrank neither way")
    func rank() throws {
        for version in [ProtocolVersion.v02, .v03] {
            for swap in Self.keyOrders {
                let duel = try Duel(swapKeys: swap, version: version)
                let high = duel.server(.high)
                let low = duel.server(.low)
                #expect(high.ownPeerID(version).bytes.lexicographicallyPrecedes(low.ownPeerID(version).bytes) == false)
                #expect(low.ownPeerID(version).bytes.lexicographicallyPrecedes(high.ownPeerID(version).bytes))
                #expect(high.peerID(of: ServerPair.peer) == low.ownPeerID(version))
            }
        }
        let id = PeerID(bytes: [UInt8](repeating: 7, count: 32))
        #expect(!Peer.outranks(ours: id, theirs: id))
        #expect(Peer.outranks(ours: PeerID(bytes: [1] + [UInt8](repeating: 0, count: 31)), theirs: PeerID(bytes: [0] + [UInt8](repeating: 0xFF, count: 31))))
    }

    @Test("both commit: the high end declines the low end's InitConf, the low end accepts the high end's", arguments: keyOrders)
    func bothCommit(swap: Bool) throws {
        var duel = try Duel(swapKeys: swap)
        let resp = try bothInitiate(&duel)
        let confHigh = try #require(try duel.deliver(resp.forHigh, to: .high, at: 0.02).reply)
        let confLow = try #require(try duel.deliver(resp.forLow, to: .low, at: 0.02).reply)
        #expect(duel.keyEvents == [.high: 1, .low: 1] && duel.lastKey[.high] != duel.lastKey[.low], "each end installed its own")

        let sessionBefore = duel.session(.high)
        let declined = try duel.deliver(confLow, to: .high, at: 0.03)
        #expect(declined.reply?.count == 64 && declined.events.isEmpty, "acknowledged, but no key")
        #expect(duel.declines[.high] == 1 && duel.session(.high) == sessionBefore && duel.hasHandshake(.high))
        #expect(duel.server(.high).state.peers[0].cachedResponse?.emptyData == declined.reply, "the answer is cached")

        let ackHigh = try #require(try duel.deliver(confHigh, to: .low, at: 0.03).reply)
        #expect(!duel.hasHandshake(.low), "accepting stops the low end's own handshake")
        #expect(throws: ProtocolError.self) { try duel.deliver(declined.reply!, to: .low, at: 0.04) }
        _ = try duel.deliver(ackHigh, to: .high, at: 0.04)
        #expect(duel.agrees, "\(duel.summary)")
        #expect(duel.session(.high)?.role == .initiator)
        #expect(duel.keyEvents == [.high: 1, .low: 2])
        try expectStable(duel, from: 0.05)
    }

    @Test("both commit, and the low end finishes its own handshake before the high end's InitConf arrives", arguments: keyOrders)
    func lowFinishesFirst(swap: Bool) throws {
        var duel = try Duel(swapKeys: swap)
        let resp = try bothInitiate(&duel)
        let confHigh = try #require(try duel.deliver(resp.forHigh, to: .high, at: 0.02).reply)
        let confLow = try #require(try duel.deliver(resp.forLow, to: .low, at: 0.02).reply)
        let ackLow = try #require(try duel.deliver(confLow, to: .high, at: 0.03).reply)
        _ = try duel.deliver(ackLow, to: .low, at: 0.04)
        #expect(!duel.hasHandshake(.low) && duel.session(.low)?.role == .initiator, "the low end believes its handshake done")
        let accepted = try duel.deliver(confHigh, to: .low, at: 0.05)
        #expect(accepted.events.count == 1 && duel.session(.low)?.role == .responder)
        _ = try duel.deliver(try #require(accepted.reply), to: .high, at: 0.06)
        #expect(duel.agrees, "\(duel.summary)")
        try expectStable(duel, from: 0.07)
    }

    @Test("the low end's InitConf arrives while the high end still waits for its RespHello: the high end accepts", arguments: keyOrders)
    func highNotCommitted(swap: Bool) throws {
        var duel = try Duel(swapKeys: swap)
        let resp = try bothInitiate(&duel)
        let confLow = try #require(try duel.deliver(resp.forLow, to: .low, at: 0.02).reply)
        let accepted = try duel.deliver(confLow, to: .high, at: 0.03)
        #expect(accepted.events.count == 1 && !duel.hasHandshake(.high), "accepted, our own handshake dropped")
        #expect(throws: ProtocolError.self) { try duel.deliver(resp.forHigh, to: .high, at: 0.04) }
        _ = try duel.deliver(try #require(accepted.reply), to: .low, at: 0.04)
        #expect(duel.agrees, "\(duel.summary)")
        #expect(duel.keyEvents == [.high: 1, .low: 1] && duel.declines[.high] == 0)
        #expect(duel.poll(.high, at: 0.6).messages.isEmpty, "nothing left to retransmit")
        try expectStable(duel, from: 0.6)
    }

    @Test("the high end's InitConf arrives while the low end still waits for its RespHello: the low end accepts", arguments: keyOrders)
    func lowNotCommitted(swap: Bool) throws {
        var duel = try Duel(swapKeys: swap)
        let resp = try bothInitiate(&duel)
        let confHigh = try #require(try duel.deliver(resp.forHigh, to: .high, at: 0.02).reply)
        let accepted = try duel.deliver(confHigh, to: .low, at: 0.03)
        #expect(accepted.events.count == 1 && !duel.hasHandshake(.low))
        #expect(throws: ProtocolError.self) { try duel.deliver(resp.forLow, to: .low, at: 0.04) }
        _ = try duel.deliver(try #require(accepted.reply), to: .high, at: 0.04)
        #expect(duel.agrees, "\(duel.summary)")
        #expect(duel.keyEvents == [.high: 1, .low: 1])
        try expectStable(duel, from: 0.05)
    }

    @Test("the high end's EmptyData overtakes the low end's InitConf: declined by its biscuit number", arguments: keyOrders)
    func acknowledgementOvertakes(swap: Bool) throws {
        var duel = try Duel(swapKeys: swap)
        let resp = try bothInitiate(&duel)
        let confHigh = try #require(try duel.deliver(resp.forHigh, to: .high, at: 0.02).reply)
        let confLow = try #require(try duel.deliver(resp.forLow, to: .low, at: 0.02).reply)
        let ackHigh = try #require(try duel.deliver(confHigh, to: .low, at: 0.03).reply)
        _ = try duel.deliver(ackHigh, to: .high, at: 0.04)
        #expect(!duel.hasHandshake(.high) && duel.session(.high)?.rivalHorizon != nil)
        let late = try duel.deliver(confLow, to: .high, at: 0.2)
        #expect(late.reply?.count == 64 && late.events.isEmpty && duel.declines[.high] == 1)
        #expect(throws: ProtocolError.self) { try duel.deliver(late.reply!, to: .low, at: 0.3) }
        #expect(duel.agrees, "\(duel.summary)")
        // The low end's next handshake (its rekey at 120 s) gets a newer biscuit and is accepted.
        try expectStable(duel, from: 0.3)
    }

    @Test("the high end's InitConf is lost; its retransmission is accepted", arguments: keyOrders)
    func initConfLost(swap: Bool) throws {
        var duel = try Duel(swapKeys: swap)
        let resp = try bothInitiate(&duel)
        let confHigh = try #require(try duel.deliver(resp.forHigh, to: .high, at: 0.02).reply)
        let confLow = try #require(try duel.deliver(resp.forLow, to: .low, at: 0.02).reply)
        let ackLow = try #require(try duel.deliver(confLow, to: .high, at: 0.03).reply)  // declined
        _ = try duel.deliver(ackLow, to: .low, at: 0.04)
        // confHigh is lost; the high end retransmits it on its schedule (within 0.5 s).
        let retransmission = try #require(duel.poll(.high, at: 0.6).messages.first?.message)
        #expect(retransmission == confHigh)
        let accepted = try duel.deliver(retransmission, to: .low, at: 0.61)
        #expect(accepted.events.count == 1)
        _ = try duel.deliver(try #require(accepted.reply), to: .high, at: 0.62)
        #expect(duel.agrees, "\(duel.summary)")
        try expectStable(duel, from: 0.63)
    }

    @Test("the acknowledgement of the high end's InitConf is lost; the low end answers the retransmission from its cache", arguments: keyOrders)
    func highAcknowledgementLost(swap: Bool) throws {
        var duel = try Duel(swapKeys: swap)
        let resp = try bothInitiate(&duel)
        let confHigh = try #require(try duel.deliver(resp.forHigh, to: .high, at: 0.02).reply)
        let confLow = try #require(try duel.deliver(resp.forLow, to: .low, at: 0.02).reply)
        _ = try duel.deliver(confLow, to: .high, at: 0.03)
        let ackHigh = try #require(try duel.deliver(confHigh, to: .low, at: 0.03).reply)  // lost
        let retransmission = try #require(duel.poll(.high, at: 0.6).messages.first?.message)
        let cached = try duel.deliver(retransmission, to: .low, at: 0.61)
        #expect(cached.reply == ackHigh && cached.events.isEmpty, "the same acknowledgement, no second key")
        _ = try duel.deliver(ackHigh, to: .high, at: 0.62)
        #expect(duel.agrees, "\(duel.summary)")
        #expect(duel.keyEvents == [.high: 1, .low: 2])
        try expectStable(duel, from: 0.63)
    }

    @Test("the acknowledgement of the low end's InitConf is lost; the high end answers the retransmission from its cache, without a key", arguments: keyOrders)
    func lowAcknowledgementLost(swap: Bool) throws {
        var duel = try Duel(swapKeys: swap)
        let resp = try bothInitiate(&duel)
        let confHigh = try #require(try duel.deliver(resp.forHigh, to: .high, at: 0.02).reply)
        let confLow = try #require(try duel.deliver(resp.forLow, to: .low, at: 0.02).reply)
        let ackLow = try #require(try duel.deliver(confLow, to: .high, at: 0.03).reply)  // lost
        let stateHigh = duel.server(.high).state
        let retransmission = try #require(duel.poll(.low, at: 0.6).messages.first?.message)
        #expect(retransmission == confLow)
        let cached = try duel.deliver(retransmission, to: .high, at: 0.61)
        #expect(cached.reply == ackLow && cached.events.isEmpty && duel.server(.high).state == stateHigh)
        _ = try duel.deliver(ackLow, to: .low, at: 0.62)
        let accepted = try duel.deliver(confHigh, to: .low, at: 0.63)
        _ = try duel.deliver(try #require(accepted.reply), to: .high, at: 0.64)
        #expect(duel.agrees, "\(duel.summary)")
        #expect(duel.declines[.high] == 1)
        try expectStable(duel, from: 0.65)
    }

    @Test("the high end's RespHello is lost: the low end's InitConf finds it waiting again and is accepted; late RespHellos are dropped", arguments: keyOrders)
    func respHelloLostAtHigh(swap: Bool) throws {
        var duel = try Duel(swapKeys: swap)
        let resp = try bothInitiate(&duel)  // resp.forHigh is lost
        let hello = try #require(duel.poll(.high, at: 0.6).messages.first?.message, "the InitHello again")
        let confLow = try #require(try duel.deliver(resp.forLow, to: .low, at: 0.02).reply)
        let accepted = try duel.deliver(confLow, to: .high, at: 0.62)
        #expect(accepted.events.count == 1 && !duel.hasHandshake(.high))
        _ = try duel.deliver(try #require(accepted.reply), to: .low, at: 0.63)
        let secondResp = try #require(try duel.deliver(hello, to: .low, at: 0.63).reply)
        #expect(throws: ProtocolError.self) { try duel.deliver(secondResp, to: .high, at: 0.64) }
        #expect(duel.agrees, "\(duel.summary)")
        try expectStable(duel, from: 0.65)
    }

    @Test("the low end's RespHello is lost; the answer to its retransmitted InitHello comes after the high end committed", arguments: keyOrders)
    func respHelloLostAtLow(swap: Bool) throws {
        var duel = try Duel(swapKeys: swap)
        let resp = try bothInitiate(&duel)  // resp.forLow is lost
        let confHigh = try #require(try duel.deliver(resp.forHigh, to: .high, at: 0.02).reply)  // lost too
        let hello = try #require(duel.poll(.low, at: 0.6).messages.first?.message)
        let secondResp = try #require(try duel.deliver(hello, to: .high, at: 0.61).reply)
        let confLow = try #require(try duel.deliver(secondResp, to: .low, at: 0.62).reply)
        let declined = try duel.deliver(confLow, to: .high, at: 0.63)
        #expect(declined.events.isEmpty && duel.declines[.high] == 1, "issued after we committed, still a rival")
        _ = try duel.deliver(try #require(declined.reply), to: .low, at: 0.64)
        let retransmission = try #require(duel.poll(.high, at: 1.5).messages.first?.message)
        #expect(retransmission == confHigh)
        let accepted = try duel.deliver(retransmission, to: .low, at: 1.51)
        _ = try duel.deliver(try #require(accepted.reply), to: .high, at: 1.52)
        #expect(duel.agrees, "\(duel.summary)")
        try expectStable(duel, from: 1.53)
    }

    @Test("the low end restarts after answering the high end's InitHello: 10 s after declining, the high end starts over", arguments: keyOrders)
    func restartedPeer(swap: Bool) throws {
        var duel = try Duel(swapKeys: swap)
        let hello = try duel.initiate(.high, at: 0)
        let resp = try #require(try duel.deliver(hello, to: .low, at: 0.01).reply)
        try duel.restart(.low)
        let confHigh = try #require(try duel.deliver(resp, to: .high, at: 0.02).reply)
        #expect(throws: ProtocolError.self) { try duel.deliver(confHigh, to: .low, at: 0.03) }

        // The restarted low end initiates; the high end, committed, declines its InitConf.
        let helloLow = try #require(duel.poll(.low, at: 1).messages.first?.message)
        let respLow = try #require(try duel.deliver(helloLow, to: .high, at: 1.01).reply)
        let confLow = try #require(try duel.deliver(respLow, to: .low, at: 1.02).reply)
        let declined = try duel.deliver(confLow, to: .high, at: 1.03)
        #expect(declined.events.isEmpty && duel.declines[.high] == 1)
        _ = try duel.deliver(try #require(declined.reply), to: .low, at: 1.04)
        #expect(!duel.agrees)

        // Our InitConf goes unanswered; at 11.03 s (10 s after the decline) we start over.
        var now = 1.04
        while true {
            let outcome = duel.poll(.high, at: now)
            if let message = outcome.messages.first?.message, message[0] == MessageType.initHello.rawValue {
                #expect(now >= 11.03 && now < 11.03 + 0.01, "started over at \(now)")
                let respHigh = try #require(try duel.deliver(message, to: .low, at: now).reply)
                let confHigh2 = try #require(try duel.deliver(respHigh, to: .high, at: now).reply)
                let accepted = try duel.deliver(confHigh2, to: .low, at: now)
                #expect(accepted.events.count == 1, "the low end accepts")
                _ = try duel.deliver(try #require(accepted.reply), to: .high, at: now)
                break
            }
            for (_, message) in outcome.messages {
                #expect(message == confHigh, "until then, our InitConf is retransmitted")
                #expect(throws: ProtocolError.self) { try duel.deliver(message, to: .low, at: now) }
            }
            #expect(outcome.nextPoll <= 11.03 + 1e-9)
            try #require(outcome.nextPoll > now && now < 12)
            now = outcome.nextPoll
        }
        #expect(duel.agrees, "\(duel.summary)")
        try expectStable(duel, from: now + 0.01)
    }

    @Test("an acknowledged InitConf after a decline cancels the restart; a handshake that expires is not restarted early")
    func watchdogOnlyWithoutAcknowledgement() throws {
        var duel = try Duel(swapKeys: false)
        let resp = try bothInitiate(&duel)
        let confHigh = try #require(try duel.deliver(resp.forHigh, to: .high, at: 0.02).reply)
        let confLow = try #require(try duel.deliver(resp.forLow, to: .low, at: 0.02).reply)
        _ = try duel.deliver(confLow, to: .high, at: 0.03)
        #expect(duel.server(.high).state.peers[0].handshake?.rivalDeclinedAt == 0.03)
        let ack = try #require(try duel.deliver(confHigh, to: .low, at: 0.04).reply)
        _ = try duel.deliver(ack, to: .high, at: 9)
        #expect(!duel.hasHandshake(.high))
        let later = duel.poll(.high, at: 10.03)
        #expect(later.messages.isEmpty && later.nextPoll > 100, "nothing due until the rekey")
    }

    @Test("against a reference peer: as the low end it agrees with us; as the high end both behave as two reference nodes")
    func referencePeer() throws {
        // A reference node never declines. As the low end it does what our low end does.
        var withReferenceLow = try Duel(swapKeys: false)
        withReferenceLow.behaveAsReference(.low)
        try runBothCommit(&withReferenceLow)
        #expect(withReferenceLow.agrees, "\(withReferenceLow.summary)")

        // As the high end it accepts our InitConf; we, the low end, accept its own, as the reference
        // would: the two ends swap keys exactly as between two reference nodes (protocol.md §5.3).
        var withReferenceHigh = try Duel(swapKeys: false)
        withReferenceHigh.behaveAsReference(.high)
        try runBothCommit(&withReferenceHigh)
        var twoReferences = try Duel(swapKeys: false)
        twoReferences.behaveAsReference(.high)
        twoReferences.behaveAsReference(.low)
        try runBothCommit(&twoReferences)
        for rank in Rank.allCases {
            #expect(withReferenceHigh.session(rank) == twoReferences.session(rank))
            #expect(withReferenceHigh.lastKey[rank] == twoReferences.lastKey[rank])
        }
        #expect(!twoReferences.agrees, "the reference's flaw, unchanged when the reference outranks us")

        // In the interleavings without a decline, a reference high end agrees with us too.
        var notCommitted = try Duel(swapKeys: false)
        notCommitted.behaveAsReference(.high)
        let resp = try bothInitiate(&notCommitted)
        let confLow = try #require(try notCommitted.deliver(resp.forLow, to: .low, at: 0.02).reply)
        _ = try notCommitted.deliver(try #require(try notCommitted.deliver(confLow, to: .high, at: 0.03).reply), to: .low, at: 0.04)
        #expect(notCommitted.agrees, "\(notCommitted.summary)")
    }

    /// The message flow of ``bothCommit(swap:)`` without its checks.
    private func runBothCommit(_ duel: inout Duel) throws {
        let resp = try bothInitiate(&duel)
        let confHigh = try #require(try duel.deliver(resp.forHigh, to: .high, at: 0.02).reply)
        let confLow = try #require(try duel.deliver(resp.forLow, to: .low, at: 0.02).reply)
        let ackLow = try #require(try duel.deliver(confLow, to: .high, at: 0.03).reply)
        let ackHigh = try #require(try duel.deliver(confHigh, to: .low, at: 0.03).reply)
        _ = try? duel.deliver(ackLow, to: .low, at: 0.04)
        _ = try? duel.deliver(ackHigh, to: .high, at: 0.04)
    }

    /// An hour of simulated time: 10 % loss, delays of 2 ms to 0.8 s (messages overtake each other
    /// and retransmissions cross), both ends starting together, both ends' timers fired together six
    /// times, each end restarted once at a time unrelated to the protocol, and the low end once more right after it
    /// answered an InitHello (the high end then commits to a handshake the low end has forgotten).
    @Test(
        "one hour on a lossy, reordering link, with boot races, forced collisions and restarts: the keys agree whenever the link is quiet",
        arguments: longRuns)
    func longRun(swap: Bool, seed: UInt64) throws {
        var link = LinkSimulation(try Duel(swapKeys: swap), from: 0, loss: 0.1, delays: 0.002...0.8, seed: seed)
        link.delayStart(of: .low, until: 0.05)  // both start up and initiate at once
        var actions: [(Seconds, (inout LinkSimulation) throws -> Void)] = []
        for start in stride(from: 400.0, to: 3600, by: 600) {
            actions.append((start, { try $0.collide() }))  // both ends' timers fire together
        }
        actions.append((1300.3, { try $0.restart(.low) }))
        actions.append((2000.1, { $0.restartAfterNextRespHello = .low }))
        actions.append((2500.7, { try $0.restart(.high) }))
        try link.run(until: 3600, actions: actions)

        #expect(link.disagreements.isEmpty, "\(link.disagreements.prefix(3))")
        #expect(link.quietChecks >= 30, "every rekey settled and was checked (\(link.quietChecks))")
        #expect(link.collisions >= 5, "the run exercised simultaneous initiation (\(link.collisions) collisions)")
        #expect(link.duel.declines[.high]! >= 1 && link.duel.declines[.low] == 0)
        #expect(link.lost > 0 && link.duel.staleEvents == 0)
        // No end is left with a key the other does not share for long: at worst a restarted end
        // waits for its handshake, or the high end waits out the 10 s after a decline and rekeys.
        #expect(link.longestDisagreement < TimerConstants.rivalDeclineTimeout + 10, "\(link.longestDisagreement) s")
        #expect(link.duel.agrees, "\(link.duel.summary)")
    }
}
