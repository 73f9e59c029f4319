// Crossed handshakes (simultaneous starts, rekeys that coincide): both ends end with the same key
// against every peer implementation that exists (`Peer-Collisions.swift`,
// docs/handshake-collisions.md).
//
// "High" is the end whose peer id is greater (it outranks the other), "low" the other.

import Foundation
import RosenpassCrypto
import RosenpassTestSupport
import Testing

@testable import RosenpassProtocol

/// One end of a pair, by its rank.
enum Rank: CaseIterable, CustomStringConvertible {
    case high, low

    var other: Rank { self == .high ? .low : .high }
    var description: String { self == .high ? "high end" : "low end" }
}

/// A ``ServerPair`` of our servers addressed by rank, recording the last key each end reported.
struct RankedPair {
    var pair: ServerPair
    let highIsA: Bool
    private(set) var lastKey: [Rank: Secret] = [:]
    private(set) var activity: [Rank: [PeerActivity]] = [.high: [], .low: []]

    init(swapKeys: Bool, version: ProtocolVersion = .v02) throws {
        pair = try ServerPair(a: .init(version: version), b: .init(version: version), swapKeys: swapKeys)
        let aOutranks = pair.a.state.peers[0].outranksPeer
        try #require(aOutranks != pair.b.state.peers[0].outranksPeer, "exactly one end outranks the other")
        highIsA = aOutranks
    }

    func server(_ rank: Rank) -> CryptoServer { (rank == .high) == highIsA ? pair.a : pair.b }
    func peer(_ rank: Rank) -> Peer { server(rank).state.peers[0] }

    mutating func withServer<R>(_ rank: Rank, _ body: (inout CryptoServer, inout CountingEntropy) throws -> R) rethrows -> R {
        if (rank == .high) == highIsA { return try body(&pair.a, &pair.entropyA) }
        return try body(&pair.b, &pair.entropyB)
    }

    mutating func initiate(_ rank: Rank, at now: Seconds) throws -> [UInt8] {
        try withServer(rank) { server, entropy in try server.initiateHandshake(with: ServerPair.peer, now: now, entropy: &entropy) }
    }

    /// Hands `rank` a datagram from the other end; returns its reply.
    @discardableResult
    mutating func deliver(_ message: [UInt8], to rank: Rank, at now: Seconds) throws -> [UInt8]? {
        let from = (rank == .high) == highIsA ? ServerPair.hostB : ServerPair.hostA
        let outcome = try withServer(rank) { server, entropy in try server.handle(datagram: message, from: from, now: now, entropy: &entropy) }
        record(outcome.events, outcome.activity, at: rank)
        return outcome.reply
    }

    mutating func poll(_ rank: Rank, at now: Seconds) -> PollOutcome {
        let outcome = withServer(rank) { server, entropy in server.poll(now: now, entropy: &entropy) }
        record(outcome.events, outcome.activity, at: rank)
        return outcome
    }

    private mutating func record(_ events: [ServerEvent], _ activity: [PeerActivity], at rank: Rank) {
        self.activity[rank, default: []] += activity
        for case .keyExchanged(_, let key) in events { lastKey[rank] = key }
    }

    func crossings(_ rank: Rank) -> [Seconds] {
        activity[rank, default: []].compactMap { if case .handshakesCrossed(_, let at) = $0 { return at } else { return nil } }
    }

    var agrees: Bool { lastKey[.high] != nil && lastKey[.high] == lastKey[.low] }

    /// Both ends initiate at 0 and each answers the other's InitHello. Returns (the RespHello for
    /// the high end, the RespHello for the low end).
    mutating func bothInitiate() throws -> (forHigh: [UInt8], forLow: [UInt8]) {
        let helloHigh = try initiate(.high, at: 0)
        let helloLow = try initiate(.low, at: 0)
        let forHigh = try #require(try deliver(helloHigh, to: .low, at: 0.01))
        let forLow = try #require(try deliver(helloLow, to: .high, at: 0.01))
        return (forHigh, forLow)
    }
}

@Suite("Crossed handshakes", .serialized)
struct CrossedHandshakeTests {
    static let keyOrders = [false, true]

    @Test("the rank: the end with the greater peer id outranks, under each version; equal ids outrank neither way")
    func rank() throws {
        for version in [ProtocolVersion.v02, .v03] {
            for swap in Self.keyOrders {
                let pair = try RankedPair(swapKeys: swap, version: version)
                let high = pair.server(.high)
                let low = pair.server(.low)
                #expect(!high.ownPeerID(version).bytes.lexicographicallyPrecedes(low.ownPeerID(version).bytes))
                #expect(low.ownPeerID(version).bytes.lexicographicallyPrecedes(high.ownPeerID(version).bytes))
                #expect(high.peerID(of: ServerPair.peer) == low.ownPeerID(version))
            }
        }
        let id = PeerID(bytes: [UInt8](repeating: 7, count: 32))
        #expect(!Peer.outranks(ours: id, theirs: id))
        #expect(Peer.outranks(ours: PeerID(bytes: [1] + [UInt8](repeating: 0, count: 31)), theirs: PeerID(bytes: [0] + [UInt8](repeating: 0xFF, count: 31))))
    }

    @Test("both commit: each end accepts the other's InitConf and schedules a repair, the high end first; its repair ends the crossing", arguments: keyOrders)
    func bothCommit(swap: Bool) throws {
        var pair = try RankedPair(swapKeys: swap)
        let resp = try pair.bothInitiate()
        let confHigh = try #require(try pair.deliver(resp.forHigh, to: .high, at: 0.02))
        let confLow = try #require(try pair.deliver(resp.forLow, to: .low, at: 0.02))
        let ackLow = try #require(try pair.deliver(confLow, to: .high, at: 0.03), "accepted and acknowledged")
        let ackHigh = try #require(try pair.deliver(confHigh, to: .low, at: 0.03))
        #expect(!pair.agrees, "each end took the other's key last: the flaw the repair removes")
        let repairHigh = try #require(pair.crossings(.high).first)
        let repairLow = try #require(pair.crossings(.low).first)
        #expect(repairHigh >= 1.03 && repairHigh <= 1.53 && repairLow >= 3.03 && repairLow <= 3.53, "\(repairHigh) \(repairLow)")
        #expect(throws: ProtocolError.self, "each end dropped its handshake when it accepted") { try pair.deliver(ackLow, to: .low, at: 0.04) }
        #expect(throws: ProtocolError.self) { try pair.deliver(ackHigh, to: .high, at: 0.04) }

        #expect(pair.poll(.high, at: repairHigh - 0.01).messages.isEmpty, "nothing before the repair is due")
        let repair = pair.poll(.high, at: repairHigh)
        let hello = try #require(repair.messages.first?.message)
        #expect(repair.activity.contains(.handshakeStarted(peer: ServerPair.peer, variants: [.round3], reason: .collisionRepair)))
        let resp2 = try #require(try pair.deliver(hello, to: .low, at: repairHigh + 0.01))
        #expect(try #require(pair.peer(.low).pendingRepair).due >= repairHigh + 3, "the peer's handshake pushes the low end's repair back")
        let conf2 = try #require(try pair.deliver(resp2, to: .high, at: repairHigh + 0.02))
        let ack2 = try #require(try pair.deliver(conf2, to: .low, at: repairHigh + 0.03))
        #expect(pair.peer(.low).pendingRepair == nil, "a clean handshake after the crossing cancels the low end's repair")
        #expect(pair.crossings(.low).count == 1 && pair.crossings(.high).count == 1, "no new crossing")
        try pair.deliver(ack2, to: .high, at: repairHigh + 0.04)
        #expect(pair.agrees)
        #expect(pair.server(.high).state.peers[0].handshake == nil && pair.peer(.high).pendingRepair == nil)
    }

    @Test("the peer's InitConf arrives before we committed: accepted, our handshake dropped, no repair", arguments: keyOrders)
    func notCommitted(swap: Bool) throws {
        var pair = try RankedPair(swapKeys: swap)
        let resp = try pair.bothInitiate()
        let confLow = try #require(try pair.deliver(resp.forLow, to: .low, at: 0.02))
        let ack = try #require(try pair.deliver(confLow, to: .high, at: 0.03))
        #expect(pair.server(.high).state.peers[0].handshake == nil && pair.crossings(.high).isEmpty)
        #expect(throws: ProtocolError.self) { try pair.deliver(resp.forHigh, to: .high, at: 0.04) }
        try pair.deliver(ack, to: .low, at: 0.04)
        #expect(pair.agrees && pair.crossings(.low).isEmpty)
        #expect(pair.poll(.high, at: 0.6).messages.isEmpty && pair.poll(.low, at: 0.6).messages.isEmpty, "nothing left to send")
    }

    @Test("our EmptyData overtakes the peer's InitConf: the biscuit predates the end of our handshake, so it is a crossing", arguments: keyOrders)
    func acknowledgementOvertakes(swap: Bool) throws {
        var pair = try RankedPair(swapKeys: swap)
        let resp = try pair.bothInitiate()
        let confHigh = try #require(try pair.deliver(resp.forHigh, to: .high, at: 0.02))
        let confLow = try #require(try pair.deliver(resp.forLow, to: .low, at: 0.02))
        let ackHigh = try #require(try pair.deliver(confHigh, to: .low, at: 0.03))
        try pair.deliver(ackHigh, to: .high, at: 0.04)
        #expect(pair.server(.high).state.peers[0].handshake == nil && pair.peer(.high).rivalHorizon != nil)
        try pair.deliver(confLow, to: .high, at: 0.2)
        #expect(pair.crossings(.high).count == 1 && pair.crossings(.low).count == 1)
    }

    @Test("handshakes one after the other, in either direction, are never taken for crossings")
    func sequentialHandshakes() throws {
        var pair = try RankedPair(swapKeys: false)
        for round in 0..<4 {
            let initiator: Rank = round % 2 == 0 ? .high : .low
            let now = Double(round) * 120
            var message = try pair.initiate(initiator, at: now)
            var to = initiator.other
            while let reply = try pair.deliver(message, to: to, at: now + 0.01) {
                message = reply
                to = to.other
            }
            #expect(pair.agrees)
        }
        #expect(pair.crossings(.high).isEmpty && pair.crossings(.low).isEmpty)
    }

    /// Start offsets of the second end against the first (both orders), covering "at the same
    /// moment" up to "the first handshake is nearly done".
    static let startOffsets: [Seconds] =
        extended
        ? [0, 0.0001, 0.0003, 0.0007, 0.001, 0.002, 0.005, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45, 0.6, 0.8]
        : [0, 0.0002, 0.001, 0.005, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.45]
    /// One-way delays: loopback ("no delay") and a 100 ms path.
    static let pathDelays: [Seconds] = extended ? [0.000_05, 0.0005, 0.003, 0.03, 0.3] : [0.000_05, 0.1]
    /// `ROSENPASS_EXTENDED_SIMULATION=1` runs many more starts (minutes; not part of `make test`).
    static let extended = ProcessInfo.processInfo.environment["ROSENPASS_EXTENDED_SIMULATION"] != nil

    /// Runs every simultaneous start of our node against `model` and returns the failures: a start
    /// after which the keys did not agree within 5 s of the last message of the start, or disagreed
    /// again for more than 5 s before 400 s (three rekeys), or disagreed at a quiet moment.
    static func simultaneousStarts(
        ours: PeerModel, against model: PeerModel, swapKeys: Bool, seeds: [UInt64]
    ) throws -> [String] {
        var failures: [String] = []
        for delay in pathDelays {
            for offset in startOffsets.flatMap({ $0 == 0 ? [0] : [$0, -$0] }) {
                for seed in seeds {
                    var first = EndSpecification(model: ours, keys: swapKeys ? TestKeys.b : TestKeys.a, start: max(0, -offset), seed: seed)
                    var second = EndSpecification(model: model, keys: swapKeys ? TestKeys.a : TestKeys.b, start: max(0, offset), seed: seed + 100)
                    first.version = .v02
                    second.version = .v02
                    var link = try LinkSimulation(first, second, delays: delay...delay, seed: seed)
                    try link.run(until: 400)
                    let agreedAt = link.agreementSince(before: 100)
                    let label = "\(ours) vs \(model), keys swapped \(swapKeys), delay \(delay), offset \(offset), seed \(seed)"
                    if agreedAt > link.lastStartMessage + 5 {
                        failures.append("\(label): agreed only at \(agreedAt), the start ended at \(link.lastStartMessage)")
                    } else if link.longestDisagreement(after: 100) > 5 {
                        failures.append("\(label): a later disagreement of \(link.longestDisagreement(after: 100)) s")
                    } else if !link.quietDisagreements.isEmpty || !link.agrees {
                        failures.append("\(label): disagreed when quiet at \(link.quietDisagreements), at the end \(link.agrees)")
                    }
                }
            }
        }
        return failures
    }

    @Test(
        "from any simultaneous start, on loopback and over 100 ms, both ends agree within 5 s and stay agreed: against ours, the reference and go-rosenpass, in either rank",
        arguments: PeerModel.allCases, keyOrders)
    func simultaneousStartConverges(model: PeerModel, swap: Bool) throws {
        let seeds: [UInt64] = Self.extended ? Array(1...(model == .goRosenpass ? 6 : 2)) : model == .goRosenpass ? [1, 2, 3] : [1]
        let failures = try Self.simultaneousStarts(ours: .ours, against: model, swapKeys: swap, seeds: seeds)
        #expect(failures.isEmpty, "\(failures.count) failures, e.g. \(failures.prefix(3))")
    }

    @Test("without the repair the same starts fail: the reference against itself and against go-rosenpass", arguments: [PeerModel.reference, .goRosenpass])
    func referenceBehaviourFails(model: PeerModel) throws {
        var failures = 0
        for swap in Self.keyOrders {
            failures += try Self.simultaneousStarts(ours: .reference, against: model, swapKeys: swap, seeds: [1, 2]).count
        }
        #expect(failures > 0, "the scenarios must be able to show the flaw")
    }

    /// An hour on a lossy, reordering link: 10 % loss, delays of 2 ms to 0.8 s, both ends starting
    /// together, each end restarted once at a time unrelated to the protocol.
    @Test(
        "one hour on a lossy, reordering link with restarts: the keys agree whenever the link is quiet, and never differ for 10 s",
        arguments: [(PeerModel.ours, false, UInt64(11)), (.ours, true, 7930), (.reference, false, 15_849), (.reference, true, 23_768),
                    (.goRosenpass, false, 31_687), (.goRosenpass, true, 39_606)])
    func lossyLongRun(model: PeerModel, swap: Bool, seed: UInt64) throws {
        let first = EndSpecification(model: .ours, keys: swap ? TestKeys.b : TestKeys.a, start: 0, seed: seed)
        let second = EndSpecification(model: model, keys: swap ? TestKeys.a : TestKeys.b, start: 0.05, seed: seed + 1)
        var link = try LinkSimulation(first, second, loss: 0.1, delays: 0.002...0.8, seed: seed)
        try link.run(until: 3600, actions: [(1300.3, { try $0.restart(1) }), (2500.7, { try $0.restart(0) })])
        #expect(link.quietDisagreements.isEmpty, "\(link.quietDisagreements.prefix(3))")
        #expect(link.quietChecks >= 25, "every rekey settled and was checked (\(link.quietChecks))")
        #expect(link.lost > 0)
        // A restarted end has no key until its first handshake, and a lost datagram costs a
        // retransmission: the longest seen is under 4 s.
        #expect(link.longestDisagreement(after: 1) < 10, "\(link.disagreements.sorted { $0.to - $0.from > $1.to - $1.from }.prefix(3))")
        #expect(link.agrees)
    }
}

@Suite("Crossed handshakes: debugging", .serialized)
struct CrossedHandshakeDebug {
    @Test("trace", .enabled(if: ProcessInfo.processInfo.environment["TRACE_SEED"] != nil))
    func trace() throws {
        let env = ProcessInfo.processInfo.environment
        let seed = UInt64(env["TRACE_SEED"]!)!
        let model = PeerModel(rawValue: env["TRACE_MODEL"] ?? "goRosenpass")!
        let swap = env["TRACE_SWAP"] == "1"
        let from = Double(env["TRACE_FROM"] ?? "0")!
        let to = Double(env["TRACE_TO"] ?? "3600")!
        var link: LinkSimulation
        if let delay = env["TRACE_DELAY"].flatMap(Double.init), let offset = env["TRACE_OFFSET"].flatMap(Double.init) {
            let first = EndSpecification(model: .ours, keys: swap ? TestKeys.b : TestKeys.a, start: max(0, -offset), seed: seed)
            let second = EndSpecification(model: model, keys: swap ? TestKeys.a : TestKeys.b, start: max(0, offset), seed: seed + 100)
            link = try LinkSimulation(first, second, delays: delay...delay, seed: seed)
        } else {
            let first = EndSpecification(model: .ours, keys: swap ? TestKeys.b : TestKeys.a, start: 0, seed: seed)
            let second = EndSpecification(model: model, keys: swap ? TestKeys.a : TestKeys.b, start: 0.05, seed: seed + 1)
            link = try LinkSimulation(first, second, loss: 0.1, delays: 0.002...0.8, seed: seed)
        }
        link.tracing = true
        try link.run(until: 3600, actions: [(1300.3, { try $0.restart(1) }), (2500.7, { try $0.restart(0) })])
        for line in link.trace {
            let time = Double(line.prefix(10).trimmingCharacters(in: .whitespaces))!
            if time >= from && time <= to { print(line) }
        }
        print("quiet disagreements: \(link.quietDisagreements)")
    }
}
