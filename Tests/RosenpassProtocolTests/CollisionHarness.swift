// Two crypto servers seen as the end that outranks the other in simultaneous initiation ("high")
// and the other ("low"), and a fake-clock network between them with delays, reordering and loss.

import RosenpassCrypto
import RosenpassTestSupport
import Testing

@testable import RosenpassProtocol

/// One end of a pair, by its simultaneous-initiation rank.
enum Rank: CaseIterable, CustomStringConvertible {
    case high, low

    var other: Rank { self == .high ? .low : .high }
    var description: String { self == .high ? "high end" : "low end" }
}

/// A ``ServerPair`` addressed by rank, recording every key it reports and every InitConf it declines.
struct Duel {
    var pair: ServerPair
    /// Whether server A is the high end.
    let highIsA: Bool
    let swapped: Bool
    let version: ProtocolVersion
    /// The last key each end reported (`nil` after a stale key or a restart).
    private(set) var lastKey: [Rank: Secret] = [:]
    private(set) var keyEvents: [Rank: Int] = [.high: 0, .low: 0]
    private(set) var staleEvents = 0
    /// Valid, new InitConfs acknowledged without taking their session.
    private(set) var declines: [Rank: Int] = [.high: 0, .low: 0]

    /// A pair with the test key pairs; `swapKeys` gives server A the other key pair, so that the
    /// other server is the high end.
    init(swapKeys: Bool, version: ProtocolVersion = .v03) throws {
        pair = try ServerPair(a: .init(version: version), b: .init(version: version), swapKeys: swapKeys)
        swapped = swapKeys
        self.version = version
        let aOutranks = pair.a.state.peers[0].outranksPeer
        let bOutranks = pair.b.state.peers[0].outranksPeer
        try #require(aOutranks != bOutranks, "exactly one end outranks the other")
        highIsA = aOutranks
    }

    func server(_ rank: Rank) -> CryptoServer { (rank == .high) == highIsA ? pair.a : pair.b }

    mutating func withServer<R>(_ rank: Rank, _ body: (inout CryptoServer, inout CountingEntropy) throws -> R) rethrows -> R {
        if (rank == .high) == highIsA { return try body(&pair.a, &pair.entropyA) }
        return try body(&pair.b, &pair.entropyB)
    }

    func host(_ rank: Rank) -> [UInt8] { (rank == .high) == highIsA ? ServerPair.hostA : ServerPair.hostB }

    /// Starts a handshake at `rank` and returns its InitHello.
    mutating func initiate(_ rank: Rank, at now: Seconds) throws -> [UInt8] {
        try withServer(rank) { server, entropy in try server.initiateHandshake(with: ServerPair.peer, now: now, entropy: &entropy) }
    }

    /// Hands `rank` a datagram from the other end.
    mutating func deliver(_ message: [UInt8], to rank: Rank, at now: Seconds) throws -> HandleOutcome {
        let usedBefore = server(rank).state.peers[0].biscuitUsed
        let from = host(rank.other)
        let outcome = try withServer(rank) { server, entropy in
            try server.handle(datagram: message, from: from, now: now, entropy: &entropy)
        }
        record(outcome.events, at: rank)
        if message[0] == MessageType.initConf.rawValue, outcome.events.isEmpty, server(rank).state.peers[0].biscuitUsed != usedBefore {
            declines[rank, default: 0] += 1
        }
        return outcome
    }

    /// Runs `rank`'s timers.
    mutating func poll(_ rank: Rank, at now: Seconds) -> PollOutcome {
        let outcome = withServer(rank) { server, entropy in server.poll(now: now, entropy: &entropy) }
        record(outcome.events, at: rank)
        return outcome
    }

    private mutating func record(_ events: [ServerEvent], at rank: Rank) {
        for event in events {
            switch event {
            case .keyExchanged(_, let key):
                lastKey[rank] = key
                keyEvents[rank, default: 0] += 1
            case .keyStale:
                lastKey[rank] = nil
                staleEvents += 1
            }
        }
    }

    /// Rebuilds `rank`'s server with the same keys and configuration: a daemon restart, which
    /// loses every piece of protocol state (sessions, biscuit keys, handshakes).
    mutating func restart(_ rank: Rank) throws {
        let ownKeys = (rank == .high) == highIsA ? (swapped ? TestKeys.b : TestKeys.a) : (swapped ? TestKeys.a : TestKeys.b)
        let peerKeys = ownKeys.publicKey == TestKeys.a.publicKey ? TestKeys.b : TestKeys.a
        let side = ServerPair.Side(version: version)
        let outranks = server(rank).state.peers[0].outranksPeer
        try withServer(rank) { server, entropy in
            server = try ServerPair.server(keys: ownKeys, peer: peerKeys, side: side, kems: StandardKEMs(), entropy: &entropy)
            server.state.peers[0].outranksPeer = outranks
        }
        lastKey[rank] = nil
    }

    /// Models a reference node at `rank`: it never declines an InitConf.
    mutating func behaveAsReference(_ rank: Rank) {
        withServer(rank) { server, _ in server.state.peers[0].outranksPeer = false }
    }

    func session(_ rank: Rank) -> Session? { server(rank).state.peers[0].session }
    func hasHandshake(_ rank: Rank) -> Bool { server(rank).hasHandshake(with: ServerPair.peer) }

    /// The key of `rank`'s current session.
    func sessionKey(_ rank: Rank) -> Secret? {
        let peer = server(rank).state.peers[0]
        return peer.session?.outputKey(separator: peer.compressedSeparator, version: peer.version)
    }

    /// Both ends hold the same session (one as initiator, one as responder), and the key each
    /// reported last is that session's key.
    var agrees: Bool {
        guard let high = session(.high), let low = session(.low), let key = lastKey[.high] else { return false }
        return high.chainingKey == low.chainingKey && high.sidm == low.sidt && high.sidt == low.sidm && high.role != low.role
            && lastKey[.low] == key && sessionKey(.high) == key
    }

    /// What the two ends hold, for failure messages.
    var summary: String {
        Rank.allCases.map { rank in
            let session = self.session(rank)
            return "\(rank): session \(session.map { "\($0.role) \($0.sidm)/\($0.sidt)" } ?? "none"), handshake \(hasHandshake(rank)), "
                + "last key is session key \(lastKey[rank] != nil && lastKey[rank] == sessionKey(rank))"
        }.joined(separator: "; ")
    }
}

/// SplitMix64: a small deterministic generator, so a simulated run repeats exactly.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// Both ends of a ``Duel`` running their timers on one fake clock, as the daemon drives them (poll
/// when due and after every datagram), with datagrams delayed by a random time in `delays` (so they
/// can overtake each other) and lost with probability `loss`.
///
/// Whenever the link falls quiet (nothing in flight and no handshake open at either end) the two
/// ends must hold the same session; every quiet period is checked once.
struct LinkSimulation {
    struct Datagram {
        let at: Seconds
        let order: Int
        let to: Rank
        let bytes: [UInt8]
    }

    var duel: Duel
    var loss: Double
    var delays: ClosedRange<Double>
    var random: SplitMix64
    private(set) var now: Seconds
    private var inFlight: [Datagram] = []
    private var order = 0
    private var nextPoll: [Rank: Seconds]
    private var quiet = false
    private(set) var quietChecks = 0
    /// Times and states at which a quiet link found the two ends disagreeing.
    private(set) var disagreements: [String] = []
    /// InitConfs handed to an end that had a handshake of its own open.
    private(set) var collisions = 0
    /// Handshakes started by the timers, per end.
    private(set) var initiations: [Rank: Int] = [.high: 0, .low: 0]
    private var initiatedIDs: [Rank: Set<[UInt8]>] = [:]
    private(set) var sent = 0
    private(set) var lost = 0
    /// The longest time the two ends' last reported keys differed (or one had none), and since when
    /// they differ now.
    private(set) var longestDisagreement: Seconds = 0
    private var disagreeingSince: Seconds?
    /// An end to restart right after it next answers an InitHello (a restart at the worst moment:
    /// the other end will commit to a handshake this end has forgotten).
    var restartAfterNextRespHello: Rank?

    init(_ duel: Duel, from start: Seconds, loss: Double = 0, delays: ClosedRange<Double> = 0.01...0.01, seed: UInt64 = 1) {
        self.duel = duel
        self.loss = loss
        self.delays = delays
        random = SplitMix64(state: seed)
        now = start
        nextPoll = [.high: start, .low: start]
    }

    /// Starts `rank` (its first poll) at `time` instead of at the start.
    mutating func delayStart(of rank: Rank, until time: Seconds) { nextPoll[rank] = time }

    /// Puts a datagram from `rank.other` to `rank` on the wire.
    mutating func send(_ bytes: [UInt8], to rank: Rank) {
        sent += 1
        if random.unit() < loss {
            lost += 1
            return
        }
        let delay = delays.lowerBound + random.unit() * (delays.upperBound - delays.lowerBound)
        order += 1
        inFlight.append(Datagram(at: now + delay, order: order, to: rank, bytes: bytes))
    }

    /// Runs until `end`; at each of `actions` (time, action) the action runs first.
    mutating func run(until end: Seconds, actions: [(Seconds, (inout LinkSimulation) throws -> Void)] = []) throws {
        var pending = actions.sorted { $0.0 < $1.0 }
        while true {
            let delivery = inFlight.indices.min { (inFlight[$0].at, inFlight[$0].order) < (inFlight[$1].at, inFlight[$1].order) }
            let deliveryTime = delivery.map { inFlight[$0].at } ?? .infinity
            let pollRank: Rank = nextPoll[.high]! <= nextPoll[.low]! ? .high : .low
            let pollTime = nextPoll[pollRank]!
            let actionTime = pending.first?.0 ?? .infinity
            let time = min(deliveryTime, pollTime, actionTime)
            guard time <= end else { break }
            now = max(now, time)
            if actionTime == time {
                let action = pending.removeFirst().1
                try action(&self)
            } else if deliveryTime == time, let delivery {
                let datagram = inFlight.remove(at: delivery)
                if datagram.bytes[0] == MessageType.initConf.rawValue && duel.hasHandshake(datagram.to) { collisions += 1 }
                if let reply = try? duel.deliver(datagram.bytes, to: datagram.to, at: now).reply {
                    send(reply, to: datagram.to.other)
                    if reply[0] == MessageType.respHello.rawValue && restartAfterNextRespHello == datagram.to {
                        restartAfterNextRespHello = nil
                        try restart(datagram.to)
                    }
                }
                poll(datagram.to)
            } else {
                poll(pollRank)
            }
            checkWhenQuiet()
            trackAgreement()
        }
        now = end
        if let since = disagreeingSince { longestDisagreement = max(longestDisagreement, now - since) }
    }

    /// Runs `rank`'s timers now and sends what they produce.
    mutating func poll(_ rank: Rank) {
        let outcome = duel.poll(rank, at: now)
        for (_, message) in outcome.messages {
            if message[0] == MessageType.initHello.rawValue, initiatedIDs[rank, default: []].insert(Array(message[4..<8])).inserted {
                initiations[rank, default: 0] += 1
            }
            send(message, to: rank.other)
        }
        nextPoll[rank] = outcome.nextPoll
    }

    /// Both ends start a handshake now, unless one already has one open. Returns whether they did.
    @discardableResult
    mutating func collide() throws -> Bool {
        guard !duel.hasHandshake(.high) && !duel.hasHandshake(.low) else { return false }
        for rank in Rank.allCases {
            send(try duel.initiate(rank, at: now), to: rank.other)
            poll(rank)
        }
        return true
    }

    /// Restarts `rank` now and runs its first poll, as a daemon does when it starts.
    mutating func restart(_ rank: Rank) throws {
        try duel.restart(rank)
        poll(rank)
    }

    private mutating func trackAgreement() {
        let agree = duel.lastKey[.high] != nil && duel.lastKey[.high] == duel.lastKey[.low]
        if agree, let since = disagreeingSince {
            longestDisagreement = max(longestDisagreement, now - since)
            disagreeingSince = nil
        } else if !agree && disagreeingSince == nil {
            disagreeingSince = now
        }
    }

    private mutating func checkWhenQuiet() {
        let isQuiet = inFlight.isEmpty && !duel.hasHandshake(.high) && !duel.hasHandshake(.low)
        if isQuiet && !quiet {
            quietChecks += 1
            if !duel.agrees { disagreements.append("at \(now): \(duel.summary)") }
        }
        quiet = isQuiet
    }
}
