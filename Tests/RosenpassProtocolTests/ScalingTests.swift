// Many peers: keys read when needed, the deadline queue, and the start-up spread (docs/scaling.md).

import RosenpassCrypto
import RosenpassTestSupport
import Synchronization
import Testing

@testable import RosenpassProtocol

/// A public key made up from a seed on every read, so that a test can have hundreds of peers
/// without holding 512 KiB for each. Any 524160 bytes are a usable McEliece public key to
/// encapsulate to; no one can answer such a handshake, which these tests do not need.
struct SyntheticKeySource: PublicKeySource {
    let seed: UInt64
    var description: String { "synthetic key \(seed)" }

    func read() throws(PublicKeyReadError) -> PublicKeyRead {
        var shake = SHAKE256()
        withUnsafeBytes(of: seed) { shake.absorb($0) }
        var bytes = [UInt8](repeating: 0, count: McElieceVariant.publicKeyCount)
        bytes.withUnsafeMutableBytes { shake.squeeze(into: $0) }
        return PublicKeyRead(bytes: bytes, mayHaveChanged: false)
    }
}

/// A source whose answer a test changes: the real key, a read error, or another key.
final class SwitchableKeySource: PublicKeySource {
    enum Mode: Sendable { case key, failing, otherKey(mayHaveChanged: Bool) }

    let key: [UInt8]
    let mode = Mutex(Mode.key)
    let reads = Mutex(0)

    init(_ key: [UInt8]) { self.key = key }

    var description: String { "switchable key" }

    func read() throws(PublicKeyReadError) -> PublicKeyRead {
        reads.withLock { $0 += 1 }
        switch mode.withLock({ $0 }) {
        case .key:
            return PublicKeyRead(bytes: key, mayHaveChanged: false)
        case .failing:
            throw PublicKeyReadError("switchable key: gone")
        case .otherKey(let mayHaveChanged):
            var other = key
            other[0] ^= 1
            return PublicKeyRead(bytes: other, mayHaveChanged: mayHaveChanged)
        }
    }
}

extension CryptoServer {
    /// Whether every peer's deadline in the queue is the one its state implies.
    var timersAreInStep: Bool {
        state.peers.indices.allSatisfy { timers.deadline(of: $0) == state.peers[$0].nextDeadline }
    }
}

@Suite("Deadline queue")
struct DeadlineQueueTests {
    @Test("agrees with a plain list under random changes, takes each due item once, in item order")
    func againstModel() {
        var queue = DeadlineQueue()
        var model = [Seconds](repeating: .infinity, count: 200)
        var random = SplitMix64(state: 7)
        var now: Seconds = 0
        for step in 0..<20_000 {
            let item = Int(random.next() % 200)
            switch random.next() % 10 {
            case 0:
                model[item] = .infinity
            case 1:
                model[item] = -.infinity
            default:
                model[item] = now + Double(random.next() % 1000) / 100
            }
            queue.schedule(item, at: model[item])
            #expect(queue.deadline(of: item) == model[item])
            if step % 50 == 0 {
                now += Double(random.next() % 300) / 100
                let expected = model.indices.filter { model[$0] <= now }
                let taken = queue.takeDue(where: { $0 <= now })
                #expect(taken == expected, "step \(step)")
                for index in taken { model[index] = .infinity }
            }
            #expect(queue.earliest() == model.min()!)
        }
    }
}

@Suite("Many peers", .serialized)
struct ManyPeersTests {
    static func server(peers: Int, initiates: Bool = true) throws -> (CryptoServer, CountingEntropy) {
        var entropy = CountingEntropy(counter: 5_000_000)
        var server = try CryptoServer(secretKey: TestKeys.a.secretKey, publicKey: TestKeys.a.publicKey, entropy: &entropy)
        for seed in 0..<peers {
            let key = try PeerPublicKey(source: SyntheticKeySource(seed: UInt64(seed)), version: .v02)
            try server.addPeer(PeerConfiguration(key: key, initiates: initiates))
        }
        return (server, entropy)
    }

    /// Polls at each `nextPoll` until `end`; returns when each peer's first handshake started.
    static func firstStarts(_ server: inout CryptoServer, entropy: inout CountingEntropy, until end: Seconds) -> [Int: Seconds] {
        var started: [Int: Seconds] = [:]
        var now: Seconds = 0
        while now <= end {
            let outcome = server.poll(now: now, entropy: &entropy)
            #expect(server.timersAreInStep)
            for case .handshakeStarted(let peer, _, _) in outcome.activity where started[peer.index] == nil {
                started[peer.index] = now
            }
            now = max(outcome.nextPoll, now + 0.001)
        }
        return started
    }

    @Test("up to 16 peers start their handshakes in the first poll")
    func fewStartAtOnce() throws {
        var (server, entropy) = try Self.server(peers: 16)
        let first = server.poll(now: 0, entropy: &entropy)
        #expect(first.messages.count == 16)
        #expect(server.timersAreInStep)
    }

    @Test("200 peers spread their first handshakes over 1 s (5 ms a peer), without bursts")
    func spreadAtStart() throws {
        var (server, entropy) = try Self.server(peers: 200)
        let started = Self.firstStarts(&server, entropy: &entropy, until: 1.1)
        #expect(started.count == 200)
        #expect(started.values.allSatisfy { $0 >= 0 && $0 < 1.0 })
        // Ten slots of 0.1 s: 20 each on average; a burst would put far more in one.
        var slots = [Int](repeating: 0, count: 10)
        for time in started.values { slots[min(9, Int(time * 10))] += 1 }
        #expect(slots.max()! <= 40, "starts per 0.1 s: \(slots)")
        #expect(slots.min()! >= 5, "starts per 0.1 s: \(slots)")
    }

    @Test("the DoS budget grows with the peers beyond 480, so that a gateway's honest rekeys do not count as load")
    func loadBudget() throws {
        #expect(LoadPolicy.standard.scaled(toPeers: 100) == .standard)
        let large = LoadPolicy.standard.scaled(toPeers: 10_000)
        #expect(abs(large.handlingsPerSecond - 10_000.0 / 30) < 1e-9 && abs(large.burst - 2 * 10_000.0 / 30) < 1e-9)
        #expect(large.sourceHandlingsPerSecond == 2 && large.sourceBurst == 8)
        let (server, _) = try Self.server(peers: 600, initiates: false)
        #expect(server.effectiveLoadPolicy.handlingsPerSecond == 20)
    }

    @Test("a poll with nothing due visits no peer, and the next deadline is the earliest retransmission")
    func idlePolls() throws {
        var (server, entropy) = try Self.server(peers: 40)
        _ = Self.firstStarts(&server, entropy: &entropy, until: 0.25)
        let earliest = server.state.peers.compactMap { $0.handshake?.schedule.retryAt }.min()!
        let before = server.state
        let idle = server.poll(now: earliest - 0.01, entropy: &entropy)
        #expect(idle.messages.isEmpty && idle.activity.isEmpty)
        #expect(server.state == before)
        #expect(abs(idle.nextPoll - earliest) < 1e-9)
    }
}

@Suite("Keys read when needed", .serialized)
struct PublicKeySourceTests {
    /// B knows A's key only through `source`.
    static func pair(source: SwitchableKeySource) throws -> ServerPair {
        var pair = try ServerPair()
        var entropy = CountingEntropy(counter: 9_000_000)
        pair.b = try CryptoServer(secretKey: TestKeys.b.secretKey, publicKey: TestKeys.b.publicKey, entropy: &entropy)
        let key = try PeerPublicKey(source: source, version: .v03)
        try pair.b.addPeer(PeerConfiguration(key: key, presharedKey: SecretBytes([UInt8](repeating: 0x42, count: 32))))
        return pair
    }

    @Test("a handshake with a key read from its source works both ways, and the key is read once per handshake")
    func handshakes() throws {
        let source = SwitchableKeySource(TestKeys.a.publicKey)
        var pair = try Self.pair(source: source)
        #expect(source.reads.withLock { $0 } == 1, "read once to compute the peer id")
        let fromA = try pair.handshake(at: 0)
        #expect(fromA.keyA != nil && fromA.keyA == fromA.keyB)
        #expect(source.reads.withLock { $0 } == 2, "the responder read it once (IHR7 and RHR5)")

        let hello = try pair.b.initiateHandshake(with: ServerPair.peer, now: 200, entropy: &pair.entropyB)
        #expect(source.reads.withLock { $0 } == 3, "the initiator read it once")
        let resp = try #require(try pair.toA(hello, at: 200).reply)
        let conf = try #require(try pair.toB(resp, at: 200).reply)
        _ = try pair.toA(conf, at: 200)
        #expect(pair.a.hasSession(with: ServerPair.peer) && pair.b.hasSession(with: ServerPair.peer))
        #expect(source.reads.withLock { $0 } == 3)
    }

    @Test("a key that cannot be read: the InitHello is dropped with no change, and our handshake waits and retries")
    func unreadable() throws {
        let source = SwitchableKeySource(TestKeys.a.publicKey)
        var pair = try Self.pair(source: source)
        source.mode.withLock { $0 = .failing }

        let hello = try pair.a.initiateHandshake(with: ServerPair.peer, now: 0, entropy: &pair.entropyA)
        let before = pair.b.state
        do {
            _ = try pair.toB(hello, at: 0)
            Issue.record("InitHello answered without the key")
        } catch let error as ProtocolError {
            #expect(error.reason == .publicKeyUnavailable && error.peer == ServerPair.peer)
        }
        var unchanged = before  // but for the DoS budgets, which a valid MAC spends
        unchanged.load = pair.b.state.load
        unchanged.sources = pair.b.state.sources
        #expect(pair.b.state == unchanged)

        let first = pair.b.poll(now: 0, entropy: &pair.entropyB)
        #expect(first.messages.isEmpty)
        #expect(first.activity == [.publicKeyUnavailable(peer: ServerPair.peer, detail: "cannot read the peer's public key: switchable key: gone")])
        #expect(abs(first.nextPoll - CryptoServer.publicKeyRetryDelay) < 1e-9)
        #expect(pair.b.poll(now: 5, entropy: &pair.entropyB).activity.isEmpty)

        source.mode.withLock { $0 = .key }
        let retry = pair.b.poll(now: CryptoServer.publicKeyRetryDelay, entropy: &pair.entropyB)
        #expect(retry.messages.count == 1)
        #expect(pair.b.timersAreInStep)
    }

    @Test("a source that now holds another key is refused when it says it may have changed")
    func replacedKey() throws {
        let source = SwitchableKeySource(TestKeys.a.publicKey)
        var pair = try Self.pair(source: source)
        source.mode.withLock { $0 = .otherKey(mayHaveChanged: true) }
        #expect(throws: ProtocolError.self) { try pair.b.initiateHandshake(with: ServerPair.peer, now: 0, entropy: &pair.entropyB) }
        let outcome = pair.b.poll(now: 0, entropy: &pair.entropyB)
        guard case .publicKeyUnavailable(_, let detail)? = outcome.activity.first else {
            Issue.record("no publicKeyUnavailable activity: \(outcome.activity)")
            return
        }
        #expect(detail.contains("holds another key"))
        #expect(!pair.b.hasHandshake(with: ServerPair.peer))
    }

    @Test("a removed peer's key is forgotten and its timers stop")
    func removal() throws {
        let source = SwitchableKeySource(TestKeys.a.publicKey)
        var pair = try Self.pair(source: source)
        _ = pair.b.poll(now: 0, entropy: &pair.entropyB)
        try pair.b.removePeer(ServerPair.peer)
        #expect(pair.b.state.peers[0].key == nil)
        #expect(pair.b.timers.deadline(of: 0) == .infinity)
        let reads = source.reads.withLock { $0 }
        #expect(pair.b.poll(now: 500, entropy: &pair.entropyB).messages.isEmpty)
        #expect(source.reads.withLock { $0 } == reads)
    }
}

