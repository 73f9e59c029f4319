// Two crypto servers wired together in memory, with the reference vector's static key pairs.

import Foundation
import RosenpassCrypto
import RosenpassTestSupport
import Testing

@testable import RosenpassProtocol

/// The static key pairs of the reference vector (round-4 secret keys), loaded once.
enum TestKeys {
    struct Pair {
        let secretKey: SecretBytes
        let publicKey: [UInt8]
    }

    static let a: Pair = load("TestCaseValues.peer_a_sk", "TestCaseValues.peer_a_pk")
    static let b: Pair = load("TestCaseValues.peer_b_sk", "TestCaseValues.peer_b_pk")

    private static func load(_ sk: String, _ pk: String) -> Pair {
        guard let vector = try? HandshakeVector.load(Fixtures.url("crypto_server_v03.json")),
            let secret = try? vector.entry(sk).bytes, let pub = try? vector.entry(pk).bytes
        else { fatalError("crypto_server_v03.json fixture missing or unreadable") }
        return Pair(secretKey: SecretBytes(secret), publicKey: pub)
    }
}

/// Counts KEM operations, to prove when McEliece work is (not) done.
final class KEMCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    func add(_ name: String) { lock.withLock { counts[name, default: 0] += 1 } }
    subscript(_ name: String) -> Int { lock.withLock { counts[name] ?? 0 } }
}

struct CountingKEMs: KEMSuite {
    let real = StandardKEMs()
    let counter: KEMCounter

    func generateEphemeralKeyPair(using entropy: inout some HandshakeEntropy) -> (publicKey: [UInt8], secretKey: SecretBytes) {
        counter.add("kyber keygen")
        return real.generateEphemeralKeyPair(using: &entropy)
    }
    func encapsulateEphemeral(publicKey: [UInt8], using entropy: inout some HandshakeEntropy) -> (ciphertext: [UInt8], sharedKey: SecretBytes) {
        counter.add("kyber encaps")
        return real.encapsulateEphemeral(publicKey: publicKey, using: &entropy)
    }
    func decapsulateEphemeral(secretKey: SecretBytes, ciphertext: [UInt8]) -> SecretBytes {
        counter.add("kyber decaps")
        return real.decapsulateEphemeral(secretKey: secretKey, ciphertext: ciphertext)
    }
    func encapsulateStatic(
        _ variant: McElieceVariant, publicKey: [UInt8], using entropy: inout some HandshakeEntropy
    ) -> (ciphertext: [UInt8], sharedKey: SecretBytes) {
        counter.add("mceliece encaps")
        return real.encapsulateStatic(variant, publicKey: publicKey, using: &entropy)
    }
    func decapsulateStatic(_ variant: McElieceVariant, secretKey: SecretBytes, ciphertext: [UInt8]) -> SecretBytes {
        counter.add("mceliece decaps")
        return real.decapsulateStatic(variant, secretKey: secretKey, ciphertext: ciphertext)
    }
    func convertStaticSecretKey(_ secretKey: SecretBytes, from variant: McElieceVariant) -> SecretBytes {
        real.convertStaticSecretKey(secretKey, from: variant)
    }
}

/// Server A and server B, each configured with the other as peer 0.
struct ServerPair {
    var a: CryptoServer
    var b: CryptoServer
    var entropyA = CountingEntropy(counter: 1_000_000)
    var entropyB = CountingEntropy(counter: 2_000_000)
    let counterB = KEMCounter()
    static let peer = PeerHandle(index: 0)
    static let hostA: [UInt8] = [10, 0, 0, 1, 0x51, 0x8C]
    static let hostB: [UInt8] = [10, 0, 0, 2, 0x51, 0x8C]

    struct Side {
        var version: ProtocolVersion = .v03
        var psk: [UInt8]? = [UInt8](repeating: 0x42, count: 32)
        var separator: OutputKeyDomainSeparator = .wireGuardPSK
        var initiatorVariant: McElieceVariant? = nil
        var initiates = true
        var loadPolicy = LoadPolicy.standard
    }

    /// Server A with key pair a and server B with key pair b, or the other way round with `swapKeys`
    /// (which turns the simultaneous-initiation rank of A and B around).
    init(a sideA: Side = Side(), b sideB: Side = Side(), swapKeys: Bool = false) throws {
        let (keysA, keysB) = swapKeys ? (TestKeys.b, TestKeys.a) : (TestKeys.a, TestKeys.b)
        a = try Self.server(keys: keysA, peer: keysB, side: sideA, kems: StandardKEMs(), entropy: &entropyA)
        b = try Self.server(keys: keysB, peer: keysA, side: sideB, kems: CountingKEMs(counter: counterB), entropy: &entropyB)
    }

    /// A server for `keys` with one peer, `peer`, configured as `side` says.
    static func server(
        keys: TestKeys.Pair, peer: TestKeys.Pair, side: Side, kems: some KEMSuite, entropy: inout CountingEntropy
    ) throws -> CryptoServer {
        var server = try CryptoServer(
            secretKey: keys.secretKey, publicKey: keys.publicKey, kems: kems, loadPolicy: side.loadPolicy, entropy: &entropy)
        try server.addPeer(
            PeerConfiguration(
                publicKey: peer.publicKey, presharedKey: side.psk.map { SecretBytes($0) }, version: side.version,
                outputKeySeparator: side.separator, initiatorVariant: side.initiatorVariant, initiates: side.initiates))
        return server
    }

    /// A datagram from A handled by B.
    mutating func toB(_ message: [UInt8], at now: Seconds, from host: [UInt8] = hostA) throws -> HandleOutcome {
        try b.handle(datagram: message, from: host, now: now, entropy: &entropyB)
    }

    /// A datagram from B handled by A.
    mutating func toA(_ message: [UInt8], at now: Seconds) throws -> HandleOutcome {
        try a.handle(datagram: message, from: Self.hostB, now: now, entropy: &entropyA)
    }

    /// Runs a handshake that A starts at `now`; returns every message and the keys reported.
    mutating func handshake(at now: Seconds) throws -> (messages: [[UInt8]], keyA: Secret?, keyB: Secret?) {
        var messages = [try a.initiateHandshake(with: Self.peer, now: now, entropy: &entropyA)]
        var keyA: Secret?
        var keyB: Secret?
        var toResponder = true
        while true {
            let outcome = toResponder ? try toB(messages.last!, at: now) : try toA(messages.last!, at: now)
            for case .keyExchanged(_, let key) in outcome.events {
                if toResponder { keyB = key } else { keyA = key }
            }
            guard let reply = outcome.reply else { break }
            messages.append(reply)
            toResponder.toggle()
        }
        return (messages, keyA, keyB)
    }
}
