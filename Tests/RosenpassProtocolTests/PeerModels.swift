// The implementations a node of ours meets, modelled on real protocol messages for the simulation
// of crossed handshakes (docs/handshake-collisions.md): this implementation, the reference
// implementation (rosenpass/rosenpass), and go-rosenpass (cunicu/go-rosenpass v0.5.39).

import RosenpassCrypto
import RosenpassTestSupport

@testable import RosenpassProtocol

/// The behaviour a simulated end follows.
enum PeerModel: String, CaseIterable, CustomStringConvertible, Sendable {
    /// This implementation: McEliece format probing, collision repair.
    case ours
    /// The reference: outputs its initiator key on RespHello, drops its own handshake when it accepts
    /// the peer's InitConf, answers retransmitted InitConfs from a cache, never repairs.
    case reference
    /// go-rosenpass v0.5.39: outputs its initiator key only when the EmptyData arrives, keeps its own
    /// handshake when it accepts the peer's InitConf, has no InitConf response cache, writes a random
    /// key when its own handshake is not confirmed within 180 s, retransmits forever, rekeys 120 s
    /// (responder) or 130 s (initiator) after each completed handshake, V02 and round 3 only, and
    /// applies each key on its own goroutine, so two keys finishing within a millisecond take effect
    /// in either order.
    case goRosenpass

    var description: String {
        switch self {
        case .ours: return "ours"
        case .reference: return "reference"
        case .goRosenpass: return "go-rosenpass"
        }
    }
}

/// One end of a simulated link: a node with one peer, the other end.
protocol SimulatedEnd {
    /// Handles a datagram from the other end; returns the datagrams to send back.
    mutating func receive(_ datagram: [UInt8], at now: Seconds) -> [[UInt8]]
    /// Runs the timers; returns the datagrams to send to the other end.
    mutating func poll(at now: Seconds) -> [[UInt8]]
    /// When ``poll(at:)`` next has something to do.
    var nextPoll: Seconds { get }
    /// The key the end's WireGuard holds at `now`: the key output last, in the order the outputs
    /// take effect; `nil` before the first.
    func appliedKey(at now: Seconds) -> Secret?
    /// Whether a handshake is open or a repair pending (the link is not quiet).
    var isBusy: Bool { get }
    /// How many keys the end has output, random ones included.
    var outputCount: Int { get }
}

/// The keys an end output, each with the time it took effect.
struct KeyOutputs {
    private(set) var outputs: [(at: Seconds, key: Secret)] = []

    mutating func add(_ key: Secret, at time: Seconds) {
        let position = outputs.lastIndex { $0.at <= time }.map { $0 + 1 } ?? 0
        outputs.insert((time, key), at: position)
    }

    func key(at now: Seconds) -> Secret? { outputs.last { $0.at <= now }?.key }

    /// A key no other end holds: what a node writes when a key expires.
    static func randomKey(_ random: inout SplitMix64) -> Secret {
        Secret(copying: (0..<4).flatMap { _ in withUnsafeBytes(of: random.next()) { Array($0) } })
    }
}

/// Our crypto server as one end: ours (repairing collisions, probing the McEliece format) or, with
/// repairs off and round 3 configured, the reference, whose rules our core otherwise follows.
struct CryptoServerEnd: SimulatedEnd {
    var server: CryptoServer
    var entropy: CountingEntropy
    let peerHost: [UInt8]
    private(set) var nextPoll: Seconds
    private var keys = KeyOutputs()
    private var random: SplitMix64
    /// Every activity the core reported, for tests that look at what happened.
    private(set) var activity: [PeerActivity] = []

    init(model: PeerModel, keys ownKeys: TestKeys.Pair, peer: TestKeys.Pair, version: ProtocolVersion, seed: UInt64, start: Seconds) throws {
        precondition(model != .goRosenpass)
        entropy = CountingEntropy(counter: seed &* 1_000_003)
        random = SplitMix64(state: seed ^ 0x5EED)
        var side = ServerPair.Side(version: version)
        if model == .reference { side.initiatorVariant = .round3 }
        server = try ServerPair.server(keys: ownKeys, peer: peer, side: side, kems: StandardKEMs(), entropy: &entropy)
        server.state.peers[0].repairsCollisions = model == .ours
        peerHost = ownKeys.publicKey == TestKeys.a.publicKey ? ServerPair.hostB : ServerPair.hostA
        nextPoll = start
    }

    mutating func receive(_ datagram: [UInt8], at now: Seconds) -> [[UInt8]] {
        guard let outcome = try? server.handle(datagram: datagram, from: peerHost, now: now, entropy: &entropy) else { return [] }
        record(outcome.events, outcome.activity, at: now)
        return outcome.reply.map { [$0] } ?? []
    }

    mutating func poll(at now: Seconds) -> [[UInt8]] {
        let outcome = server.poll(now: now, entropy: &entropy)
        record(outcome.events, outcome.activity, at: now)
        nextPoll = outcome.nextPoll
        return outcome.messages.map(\.message)
    }

    private mutating func record(_ events: [ServerEvent], _ activity: [PeerActivity], at now: Seconds) {
        self.activity += activity
        for event in events {
            switch event {
            case .keyExchanged(_, let key): keys.add(key, at: now)
            case .keyStale: keys.add(KeyOutputs.randomKey(&random), at: now)
            }
        }
    }

    func appliedKey(at now: Seconds) -> Secret? { keys.key(at: now) }
    var isBusy: Bool { server.state.peers[0].handshake != nil || server.state.peers[0].pendingRepair != nil }
    var outputCount: Int { keys.outputs.count }
    var peerState: Peer { server.state.peers[0] }
}

/// go-rosenpass v0.5.39 on real messages: a responder crypto server that never initiates, and one
/// throw-away initiator crypto server per handshake, with go-rosenpass's timers and output rules
/// around them (PeerModel.goRosenpass).
struct GoRosenpassEnd: SimulatedEnd {
    /// One initiator handshake of go-rosenpass.
    struct Handshake {
        enum Stage { case awaitingRespHello, awaitingEmptyData, done, expired }
        var server: CryptoServer
        let sidi: [UInt8]
        var stage: Stage
        /// The key computed on RespHello, output only when the EmptyData arrives.
        var pendingKey: Secret?
        let expiresAt: Seconds
        /// The retransmission timer: go-rosenpass never stops it on expiry.
        var message: [UInt8]
        var retryCount: Int
        var retryAt: Seconds?
    }

    let ownKeys: TestKeys.Pair
    let peerKeys: TestKeys.Pair
    var responder: CryptoServer
    var entropy: CountingEntropy
    var handshakes: [Handshake] = []
    var rekeyAt: Seconds?
    private var random: SplitMix64
    private var keys = KeyOutputs()
    private var startAt: Seconds?
    /// The time of the last call, to find keys still to take effect.
    private var clock: Seconds = -.infinity
    let peerHost: [UInt8]

    init(keys ownKeys: TestKeys.Pair, peer: TestKeys.Pair, seed: UInt64, start: Seconds) throws {
        self.ownKeys = ownKeys
        peerKeys = peer
        entropy = CountingEntropy(counter: seed &* 1_000_003)
        random = SplitMix64(state: seed ^ 0x600D)
        var side = ServerPair.Side(version: .v02)
        side.initiatorVariant = .round3
        side.initiates = false
        responder = try ServerPair.server(keys: ownKeys, peer: peer, side: side, kems: StandardKEMs(), entropy: &entropy)
        responder.state.peers[0].repairsCollisions = false
        peerHost = ownKeys.publicKey == TestKeys.a.publicKey ? ServerPair.hostB : ServerPair.hostA
        startAt = start
    }

    /// `min(0.5 s · 2^count, 10 s)` minus a jitter in [0, 0.5 s): go-rosenpass's jitter is only ever negative.
    private mutating func retransmitDelay(_ count: Int) -> Seconds {
        min(0.5 * Double(1 << min(count, 10)), 10) - 0.5 * random.unit()
    }

    /// Each key goes to the handlers on a goroutine of its own: it takes effect within a millisecond.
    private mutating func output(_ key: Secret, at now: Seconds) {
        keys.add(key, at: now + 0.001 * random.unit())
    }

    mutating func receive(_ datagram: [UInt8], at now: Seconds) -> [[UInt8]] {
        clock = now
        guard let type = datagram.first else { return [] }
        switch type {
        case MessageType.initHello.rawValue:
            guard datagram.count == MessageLayout.round3.initHelloLength else { return [] }  // invalid message length
            return (try? responder.handle(datagram: datagram, from: peerHost, now: now, entropy: &entropy).reply).map { [$0] } ?? []
        case MessageType.initConf.rawValue:
            // No response cache: a retransmitted InitConf is a replay and gets no answer.
            if responder.state.responseCacheIndex[Array(datagram[0..<160])] != nil { return [] }
            guard let outcome = try? responder.handle(datagram: datagram, from: peerHost, now: now, entropy: &entropy) else { return [] }
            for case .keyExchanged(_, let key) in outcome.events {
                output(key, at: now)
                rekeyAt = now + TimerConstants.rekeyAfterTimeResponder
            }
            return outcome.reply.map { [$0] } ?? []
        case MessageType.respHello.rawValue:
            guard datagram.count == MessageLayout.round3.respHelloLength,
                let index = handshakes.firstIndex(where: { $0.sidi == Array(datagram[8..<12]) && $0.stage == .awaitingRespHello }),
                let outcome = try? handshakes[index].server.handle(datagram: datagram, from: peerHost, now: now, entropy: &entropy),
                let initConf = outcome.reply
            else { return [] }
            for case .keyExchanged(_, let key) in outcome.events { handshakes[index].pendingKey = key }
            handshakes[index].stage = .awaitingEmptyData
            handshakes[index].message = initConf
            handshakes[index].retryCount = 0
            handshakes[index].retryAt = now + retransmitDelay(0)
            return [initConf]
        case MessageType.emptyData.rawValue:
            guard let index = handshakes.firstIndex(where: { $0.sidi == Array(datagram[4..<8]) && $0.stage == .awaitingEmptyData }),
                (try? handshakes[index].server.handle(datagram: datagram, from: peerHost, now: now, entropy: &entropy)) != nil
            else { return [] }
            handshakes[index].stage = .done
            handshakes[index].retryAt = nil
            if let key = handshakes[index].pendingKey { output(key, at: now) }
            rekeyAt = now + TimerConstants.rekeyAfterTimeInitiator
            return []
        default:
            return []  // CookieReply and Data: invalid message type
        }
    }

    mutating func poll(at now: Seconds) -> [[UInt8]] {
        clock = now
        var messages = [[UInt8]]()
        if let start = startAt, start <= now {
            startAt = nil
            messages.append(startHandshake(at: now))
        }
        if let rekey = rekeyAt, rekey <= now {
            rekeyAt = nil
            messages.append(startHandshake(at: now))
        }
        for index in handshakes.indices {
            if handshakes[index].stage == .awaitingRespHello || handshakes[index].stage == .awaitingEmptyData,
                handshakes[index].expiresAt <= now
            {
                handshakes[index].stage = .expired  // "Erasing outdated key": a random key
                output(KeyOutputs.randomKey(&random), at: now)
            }
            if let retry = handshakes[index].retryAt, retry <= now {
                handshakes[index].retryCount += 1
                handshakes[index].retryAt = now + retransmitDelay(handshakes[index].retryCount)
                messages.append(handshakes[index].message)
            }
        }
        _ = responder.poll(now: now, entropy: &entropy)  // biscuit keys; its events mean nothing here
        return messages
    }

    private mutating func startHandshake(at now: Seconds) -> [UInt8] {
        var side = ServerPair.Side(version: .v02)
        side.initiatorVariant = .round3
        var server = try! ServerPair.server(keys: ownKeys, peer: peerKeys, side: side, kems: StandardKEMs(), entropy: &entropy)
        server.state.peers[0].repairsCollisions = false
        let hello = try! server.initiateHandshake(with: ServerPair.peer, now: now, entropy: &entropy)
        handshakes.append(
            Handshake(
                server: server, sidi: Array(hello[4..<8]), stage: .awaitingRespHello, expiresAt: now + TimerConstants.rejectAfterTime,
                message: hello, retryCount: 0, retryAt: now + retransmitDelay(0)))
        return hello
    }

    var nextPoll: Seconds {
        var next = Seconds.infinity
        if let startAt { next = min(next, startAt) }
        if let rekeyAt { next = min(next, rekeyAt) }
        for handshake in handshakes {
            if let retry = handshake.retryAt { next = min(next, retry) }
            if handshake.stage == .awaitingRespHello || handshake.stage == .awaitingEmptyData { next = min(next, handshake.expiresAt) }
        }
        // Step to each goroutine's moment, so the simulation sees keys take effect when they do.
        for output in keys.outputs where output.at > clock { next = min(next, output.at) }
        return min(next, responder.state.biscuitKeys.nextErasure)
    }

    func appliedKey(at now: Seconds) -> Secret? { keys.key(at: now) }
    /// A handshake is open, or a key is still on its way to the handlers.
    var isBusy: Bool {
        handshakes.contains { $0.stage == .awaitingRespHello || $0.stage == .awaitingEmptyData }
            || keys.outputs.contains { $0.at > clock }
    }
    var outputCount: Int { keys.outputs.count }
}
