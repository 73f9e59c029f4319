// What the daemon tells the operator: key lines, progress, warnings with causes, dropped datagrams.

import Logging
import RosenpassProtocol
import Testing

@testable import RosenpassApp

@Suite("Peer monitor")
struct PeerMonitorTests {
    static let bob = PeerLabel(
        name: "bob", endpoint: "bob.example:9999", wireGuard: .init(device: "wg0", peerKey: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="),
        peerID: "RPbbckFaD8J9nMhu9+iiDTt0FYDeDnNOlqH8vhKy6qw=")
    static let peer = PeerHandle(index: 0)

    func monitor(initiates: Bool = true, label: PeerLabel = bob, variant: McElieceVariant? = nil) -> PeerMonitor {
        PeerMonitor(peers: [.init(label: label, initiates: initiates, version: .v02, configuredVariant: variant)], now: 0)
    }

    @Test("peers are named by their name, or else by endpoint, WireGuard peer and a short id")
    func labels() {
        #expect("\(Self.bob)" == "bob")
        #expect(Self.bob.details == "bob (bob.example:9999, wg0:xTIBA5rb…, id:RPbbckFa)")
        let unnamed = PeerLabel(name: nil, endpoint: "192.0.2.1:9999", wireGuard: Self.bob.wireGuard, peerID: Self.bob.peerID)
        #expect("\(unnamed)" == "[192.0.2.1:9999 wg0:xTIBA5rb… id:RPbbckFa]")
        let responder = PeerLabel(name: nil, endpoint: nil, wireGuard: nil, peerID: Self.bob.peerID)
        #expect("\(responder)" == "[id:RPbbckFa]" && responder.details == "[id:RPbbckFa] (responder only)")
        #expect(humanDuration(12.4) == "12 s" && humanDuration(200) == "3 min 20 s" && humanDuration(7500) == "2 h 5 min")
    }

    @Test("status counters: only a handshake given up without a RespHello is a failure; the last failure is kept across keys; a peer added later is judged from when it was added, a removed one is never warned about")
    func statusCountersAndPeersComingAndGoing() {
        var monitor = monitor()
        _ = monitor.record(.handshakeExpired(peer: Self.peer, awaiting: .emptyData, retransmissions: 3), at: 5)
        #expect(monitor.peers[0].handshakesFailed == 0 && monitor.peers[0].lastFailure == nil)
        _ = monitor.record(.handshakeExpired(peer: Self.peer, awaiting: .respHello, retransmissions: 9), at: 180)
        #expect(monitor.peers[0].handshakesFailed == 1 && monitor.peers[0].lastFailure?.what == "handshake given up: no RespHello in 180 s")
        _ = monitor.record(.handshakeCompleted(peer: Self.peer, role: .initiator, variant: .round3), at: 200)
        #expect(monitor.peers[0].lastFailure?.at == 180, "kept after a key")

        monitor.add(.init(label: Self.bob, initiates: true, version: .v02, configuredVariant: nil), now: 1000)
        #expect(monitor.check(at: 1020).allSatisfy { !$0.message.contains("since it was added") }, "20 s after it was added: no warning yet")
        let late = monitor.check(at: 1031).first { $0.message.contains("since it was added") }
        #expect(late?.message.contains("no key exchanged in the 31 s since it was added") == true, "\(String(describing: late))")
        monitor.remove(1)
        #expect(monitor.check(at: 5000).allSatisfy { !$0.message.contains("since it was added") })
        #expect(monitor.statusLines(at: 5000).count == 1)
    }

    @Test("many overdue peers at once: sixteen described, the rest counted in one line, and each repeated on its own schedule")
    func manyOverduePeers() {
        let infos = (0..<40).map { index in
            PeerMonitor.PeerInfo(
                label: PeerLabel(name: "client-\(index)", endpoint: nil, wireGuard: nil, peerID: Self.bob.peerID),
                initiates: false, version: .v02, configuredVariant: nil)
        }
        var monitor = PeerMonitor(peers: infos, now: 0)
        #expect(monitor.check(at: 29).isEmpty)
        let first = monitor.check(at: 30)
        #expect(first.count == PeerMonitor.warningsPerCheck + 1)
        #expect(first.prefix(16).allSatisfy { $0.message.contains("no key exchanged in the 30 s since start-up") })
        #expect(first.last == LogLine(.warning, "24 more peers have had no key exchanged for as long; `rosenpass status` lists every peer and its last failure"))
        #expect(monitor.peers.allSatisfy { $0.warnings == 1 }, "the counted ones are not warned about again at once")
        #expect(monitor.check(at: 60).isEmpty)
        #expect(monitor.check(at: 90).count == PeerMonitor.warningsPerCheck + 1, "repeated after a minute")
    }

    @Test("each key is one notice line; the handshake's progress is at info level")
    func keyAndProgressLines() {
        var monitor = monitor()
        let started = monitor.record(.handshakeStarted(peer: Self.peer, variants: [.round3, .round4], reason: .noKey), at: 0)
        #expect(started == [LogLine(.info, "peer bob: handshake started (no key yet); McEliece round 3 first, then alternating with round 4 until the peer answers")])
        #expect(monitor.record(.retransmitted(peer: Self.peer, message: .initHello, count: 2), at: 0.5)
            == [LogLine(.info, "peer bob: no answer yet; InitHello sent again (2nd time)")])
        #expect(monitor.record(.variantLearned(peer: Self.peer, variant: .round4), at: 1).first?.message.contains("uses McEliece round 4") == true)
        #expect(monitor.record(.handshakeCompleted(peer: Self.peer, role: .initiator, variant: .round4), at: 1)
            == [LogLine(.notice, "Exchanged key with peer bob (as initiator, McEliece round 4)")])
        #expect(monitor.record(.handshakesCrossed(peer: Self.peer, repairAt: 2.2), at: 1).first?.message.contains("one more handshake in 1 s") == true)
        #expect(monitor.record(.handshakeExpired(peer: Self.peer, awaiting: .respHello, retransmissions: 17), at: 181)
            == [LogLine(.info, "peer bob: handshake given up after 180 s without a RespHello (17 retransmissions)")])
        #expect(monitor.peers[0].handshakesStarted == 1 && monitor.peers[0].handshakesCompleted == 1 && monitor.peers[0].handshakesExpired == 1)
    }

    @Test("no key 30 s after start: a warning that counts the unanswered InitHellos and names the likely causes, repeated after 1 and 5 minutes, then every 30; a notice when keys flow again")
    func warnsAndRecovers() {
        var monitor = monitor()
        _ = monitor.record(.handshakeStarted(peer: Self.peer, variants: [.round3, .round4], reason: .noKey), at: 0)
        for count in 1...7 { _ = monitor.record(.retransmitted(peer: Self.peer, message: .initHello, count: count), at: Double(count) * 4) }
        #expect(monitor.check(at: 29.9).isEmpty && monitor.nextCheck == 30)
        let warning = monitor.check(at: 30)
        #expect(warning.count == 1 && warning[0].level == .warning)
        #expect(warning[0].message == "peer bob: no key exchanged in the 30 s since start-up; 8 InitHellos sent over 30 s got no answer. "
            + "Likely causes: the peer is down or unreachable at bob.example:9999 (firewall, wrong address or port); the peer drops our InitHellos: "
            + "it does not have our current public key, it uses the other protocol_version (V02 here), or it reads neither McEliece format we sent (round 3, round 4)")
        #expect(monitor.check(at: 89).isEmpty && monitor.check(at: 90).count == 1, "again after 1 min")
        #expect(monitor.check(at: 389).isEmpty && monitor.check(at: 390).count == 1, "then after 5 min")
        #expect(monitor.check(at: 2189).isEmpty && monitor.check(at: 2190).count == 1 && monitor.nextCheck == 3990, "then every 30 min")
        let recovered = monitor.record(.handshakeCompleted(peer: Self.peer, role: .responder, variant: nil), at: 2500)
        #expect(recovered == [
            LogLine(.notice, "peer bob: keys flow again, after 41 min 40 s without one"),
            LogLine(.notice, "Exchanged key with peer bob (as responder)"),
        ])
        #expect(monitor.nextCheck == 2650, "overdue again 150 s after the key")
        #expect(monitor.check(at: 2649).isEmpty)
        #expect(monitor.check(at: 2650).first?.message.hasPrefix("peer bob: no key exchanged for 2 min 30 s since its last key") == true)
    }

    @Test("what the dropped datagrams said becomes the cause: protocol version, pre-shared key, our public key, its public key")
    func evidence() {
        let cases: [(DropReason, String, String)] = [
            (.versionMismatch, "1 of its messages used the other protocol version", "protocol_version differs: V02 is configured here for this peer"),
            (.authenticationFailed, "1 of its messages failed authentication (InitHello auth does not decrypt)", "the pre-shared keys (pre_shared_key) differ"),
            (.badMAC, "1 datagrams from its address were not addressed to our public key", "the peer has an old or wrong public key of ours"),
            (.unknownPeer, "1 InitHellos from its address came from a peer id we do not know", "the public key configured here for this peer is not its current one"),
        ]
        for (reason, seen, cause) in cases {
            var monitor = monitor()
            monitor.dropped(reason, detail: "InitHello auth does not decrypt", peer: Self.peer, at: 10)
            let message = monitor.check(at: 31).first?.message ?? ""
            #expect(message.contains(seen) && message.contains("Likely causes: \(cause)"), "\(message)")
            #expect(!message.contains("down or unreachable"), "evidence replaces the generic causes")
        }
    }

    @Test("a responder-only peer: the warning says that it must start the handshakes; a configured McEliece format is named")
    func responderOnlyAndConfiguredFormat() {
        var responder = monitor(initiates: false)
        let message = responder.check(at: 30).first?.message ?? ""
        #expect(message.contains("no endpoint is configured here, so the peer must start the handshakes"))
        #expect(message.contains("does not have this host as its endpoint"))
        var configured = monitor(variant: .round4)
        _ = configured.record(.handshakeStarted(peer: Self.peer, variants: [.round4], reason: .noKey), at: 0)
        #expect(configured.check(at: 30).first?.message.contains("reads no McEliece round 4 (mceliece_variant = \"round4\" is configured here") == true)
    }

    @Test("a stale key is a warning")
    func staleKey() {
        var monitor = monitor()
        #expect(monitor.keyExpired(Self.peer, at: 300).first?.level == .warning)
    }
}

@Suite("Dropped-datagram log")
struct DropLogTests {
    @Test("20 lines per 10 s, then a summary by reason when the window ends, without waiting for another datagram")
    func rateLimited() {
        var log = DropLog()
        var lines = [LogLine]()
        for index in 0..<1000 {
            lines += log.dropped(index % 10 == 0 ? .malformed : .badMAC, at: 5 + Double(index) * 0.001) { "datagram \(index)" }
        }
        #expect(lines.count == 20 && lines.allSatisfy { $0.level == .info })
        #expect(lines[0].message == "dropped datagram 0 [malformed]" && lines[1].message == "dropped datagram 1 [bad_mac]")
        #expect(log.nextSummary == 15)
        #expect(log.flush(at: 14.9).isEmpty)
        #expect(log.flush(at: 15) == [LogLine(.info, "dropped 980 more datagrams in 10 s (bad_mac 882, malformed 98)")])
        #expect(log.nextSummary == nil && log.totals == [.badMAC: 900, .malformed: 100])
        #expect(log.dropped(.replay, at: 16) { "late" }.count == 1, "a new window")
    }

    @Test("a stretch under load: a notice when cookie requests start, a summary every minute, a notice when they stop")
    func loadReports() {
        var log = DropLog()
        let first = log.cookieReplySent(at: 100)
        #expect(first.count == 1 && first[0].level == .notice && first[0].message.hasPrefix("under load:"))
        // One cookie request every 10 ms for 70 s.
        for index in 1..<6000 { #expect(log.cookieReplySent(at: 100 + Double(index) * 0.01).isEmpty) }
        #expect(log.nextSummary == 160)
        #expect(log.flush(at: 159).isEmpty)
        #expect(log.flush(at: 160) == [LogLine(.info, "still under load: 6000 cookie requests sent in the last 1 min")])
        for index in 6000..<7000 { _ = log.cookieReplySent(at: 100 + Double(index) * 0.01) }
        #expect(log.flush(at: 179.9).isEmpty)
        #expect(log.flush(at: 179.99) == [LogLine(.notice, "no longer under load: 7000 cookie requests sent over 1 min 10 s")])
        #expect(log.nextSummary == nil && log.cookieReplies == 7000)
    }
}
