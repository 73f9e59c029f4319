// Two simulated ends (PeerModels.swift) on one fake clock, with a network between them that delays,
// reorders and loses datagrams.

import RosenpassCrypto
import RosenpassTestSupport

@testable import RosenpassProtocol

/// How to build one end: its model, its key pair, and when it starts.
struct EndSpecification {
    var model: PeerModel
    var keys: TestKeys.Pair
    var start: Seconds = 0
    var version: ProtocolVersion = .v02
    var seed: UInt64 = 1

    var peerKeys: TestKeys.Pair { keys.publicKey == TestKeys.a.publicKey ? TestKeys.b : TestKeys.a }

    /// A fresh end: at start-up, or after a restart that lost every piece of state.
    func make(startingAt start: Seconds) throws -> any SimulatedEnd {
        switch model {
        case .goRosenpass:
            return try GoRosenpassEnd(keys: keys, peer: peerKeys, seed: seed, start: start)
        case .ours, .reference:
            return try CryptoServerEnd(model: model, keys: keys, peer: peerKeys, version: version, seed: seed, start: start)
        }
    }
}

/// Two ends running their timers on one fake clock, as daemons drive them (poll when due and after
/// every datagram), with each datagram delayed by a random time in `delays` and lost with
/// probability `loss`.
///
/// It records when the two ends' WireGuard keys differ (or one has none yet), and checks, each time
/// the link falls quiet (nothing in flight, no handshake open, no repair pending), that they agree.
struct LinkSimulation {
    struct Datagram {
        let at: Seconds
        let order: Int
        let to: Int
        let bytes: [UInt8]
    }

    let specifications: [EndSpecification]
    var ends: [any SimulatedEnd]
    var loss: Double
    var delays: ClosedRange<Double>
    var random: SplitMix64
    private(set) var now: Seconds = 0
    private var inFlight: [Datagram] = []
    private var order = 0
    private(set) var sent = 0
    private(set) var lost = 0
    /// The session ids of each end's first InitHello: the messages of "the start".
    private var startSessionIDs: [[UInt8]?] = [nil, nil]
    /// When the last message of the start was sent.
    private(set) var lastStartMessage: Seconds = 0
    /// The intervals in which the two ends' keys differed (or one had none).
    private(set) var disagreements: [(from: Seconds, to: Seconds)] = []
    private var disagreeingSince: Seconds? = 0
    private var quiet = false
    private(set) var quietChecks = 0
    /// Quiet moments at which the keys differed.
    private(set) var quietDisagreements: [Seconds] = []
    /// InitHellos sent by each end.
    private(set) var initHellos = [0, 0]
    /// With `tracing` on: every datagram sent, delivered or lost, and every change of a key, for
    /// reading a failing run.
    var tracing = false
    private(set) var trace: [String] = []

    init(_ first: EndSpecification, _ second: EndSpecification, loss: Double = 0, delays: ClosedRange<Double> = 0.01...0.01, seed: UInt64 = 1) throws {
        specifications = [first, second]
        ends = [try first.make(startingAt: first.start), try second.make(startingAt: second.start)]
        self.loss = loss
        self.delays = delays
        random = SplitMix64(state: seed)
    }

    /// Runs until `end`; at each of `actions` (time, action) the action runs first.
    mutating func run(until end: Seconds, actions: [(Seconds, (inout LinkSimulation) throws -> Void)] = []) throws {
        var pending = actions.sorted { $0.0 < $1.0 }
        while true {
            let delivery = inFlight.indices.min { (inFlight[$0].at, inFlight[$0].order) < (inFlight[$1].at, inFlight[$1].order) }
            let deliveryTime = delivery.map { inFlight[$0].at } ?? .infinity
            let pollEnd = ends[0].nextPoll <= ends[1].nextPoll ? 0 : 1
            let pollTime = ends[pollEnd].nextPoll
            let actionTime = pending.first?.0 ?? .infinity
            let time = min(deliveryTime, pollTime, actionTime)
            guard time <= end else { break }
            now = max(now, time)
            if actionTime == time {
                let action = pending.removeFirst().1
                try action(&self)
            } else if deliveryTime == time, let delivery {
                let datagram = inFlight.remove(at: delivery)
                if tracing { trace.append(String(format: "%10.4f  → %d  %@", now, datagram.to, Self.describe(datagram.bytes))) }
                for reply in ends[datagram.to].receive(datagram.bytes, at: now) { send(reply, from: datagram.to) }
                poll(datagram.to)
            } else {
                poll(pollEnd)
            }
            track()
        }
        now = end
        if let since = disagreeingSince { disagreements.append((since, end)) }
        disagreeingSince = nil
    }

    /// Runs an end's timers now and sends what they produce.
    mutating func poll(_ index: Int) {
        for message in ends[index].poll(at: now) { send(message, from: index) }
    }

    /// Restarts an end now: a new process with the same keys and configuration, and no state.
    mutating func restart(_ index: Int) throws {
        ends[index] = try specifications[index].make(startingAt: now)
        poll(index)
    }

    /// Puts a datagram from end `from` on the wire to the other end.
    mutating func send(_ bytes: [UInt8], from: Int) {
        noteStartMessage(bytes, from: from)
        sent += 1
        if random.unit() < loss {
            lost += 1
            if tracing { trace.append(String(format: "%10.4f %d ✗   %@ (lost)", now, from, Self.describe(bytes))) }
            return
        }
        if tracing { trace.append(String(format: "%10.4f %d →   %@", now, from, Self.describe(bytes))) }
        let delay = delays.lowerBound + random.unit() * (delays.upperBound - delays.lowerBound)
        order += 1
        inFlight.append(Datagram(at: now + delay, order: order, to: 1 - from, bytes: bytes))
    }

    private mutating func noteStartMessage(_ bytes: [UInt8], from: Int) {
        let sessionID: [UInt8]
        switch bytes[0] {
        case MessageType.initHello.rawValue:
            initHellos[from] += 1
            sessionID = Array(bytes[4..<8])
            if startSessionIDs[from] == nil { startSessionIDs[from] = sessionID }
        case MessageType.respHello.rawValue: sessionID = Array(bytes[8..<12])
        case MessageType.initConf.rawValue, MessageType.emptyData.rawValue: sessionID = Array(bytes[4..<8])
        default: return
        }
        if startSessionIDs.contains(sessionID) { lastStartMessage = now }
    }

    /// A datagram's type and session ids, for the trace.
    static func describe(_ bytes: [UInt8]) -> String {
        func hex(_ range: Range<Int>) -> String { Hex.encode(bytes[range]) }
        switch bytes[0] {
        case MessageType.initHello.rawValue: return "InitHello(\(bytes.count)) sidi \(hex(4..<8))"
        case MessageType.respHello.rawValue: return "RespHello sidr \(hex(4..<8)) sidi \(hex(8..<12))"
        case MessageType.initConf.rawValue: return "InitConf sidi \(hex(4..<8)) sidr \(hex(8..<12))"
        case MessageType.emptyData.rawValue: return "EmptyData sid \(hex(4..<8))"
        default: return "type \(bytes[0]) (\(bytes.count))"
        }
    }

    private var tracedKeys: [String] = ["", ""]

    private mutating func track() {
        if tracing {
            for index in 0..<2 {
                let key = ends[index].appliedKey(at: now).map { Hex.encode($0.bytes.unprotectedArray().prefix(4)) } ?? "none"
                if key != tracedKeys[index] {
                    trace.append(String(format: "%10.4f %d key %@", now, index, key))
                    tracedKeys[index] = key
                }
            }
        }
        let key = ends[0].appliedKey(at: now)
        let agree = key != nil && key == ends[1].appliedKey(at: now)
        if agree, let since = disagreeingSince {
            disagreements.append((since, now))
            disagreeingSince = nil
        } else if !agree && disagreeingSince == nil {
            disagreeingSince = now
        }
        let isQuiet = inFlight.isEmpty && !ends[0].isBusy && !ends[1].isBusy
        if isQuiet && !quiet {
            quietChecks += 1
            if !agree { quietDisagreements.append(now) }
        }
        quiet = isQuiet
    }

    /// Whether the two ends hold the same key now.
    var agrees: Bool {
        let key = ends[0].appliedKey(at: now)
        return key != nil && key == ends[1].appliedKey(at: now)
    }

    /// The end of the last disagreement that started before `time`: from then on (up to `time`
    /// and beyond, until a later disagreement) the keys agree.
    func agreementSince(before time: Seconds) -> Seconds {
        disagreements.filter { $0.from < time }.map(\.to).max() ?? 0
    }

    /// The longest disagreement that started at or after `time`.
    func longestDisagreement(after time: Seconds) -> Seconds {
        disagreements.filter { $0.from >= time }.map { $0.to - $0.from }.max() ?? 0
    }
}
