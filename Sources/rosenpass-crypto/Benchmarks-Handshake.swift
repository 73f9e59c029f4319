// Benchmarks of the handshake family for `rosenpass-crypto bench`: each side's work per handshake,
// and the floor of primitive operations that side cannot avoid, measured in the same run.

import RosenpassCrypto
import RosenpassProtocol

/// Deterministic entropy: restarting it from the same seed repeats every draw, so a side can redo
/// the same handshake against a recorded reply from the other side.
private struct BenchmarkEntropy: HandshakeEntropy {
    var state: UInt64

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer, for purpose: EntropyPurpose) {
        for i in 0..<buffer.count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            buffer[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
    }
}

/// Two static key pairs, generated once for all handshake benchmarks.
private let benchmarkKeys: [(publicKey: [UInt8], secretKey: SecretBytes)] = (0..<2).map { _ in
    ClassicMcEliece460896Round4.generateKeyPair()
}

/// A recorded handshake: the initial servers and entropy of both sides, and every message.
private struct RecordedHandshake {
    let initiator: CryptoServer
    let responder: CryptoServer
    let initiatorEntropy: BenchmarkEntropy
    let responderEntropy: BenchmarkEntropy
    let messages: [[UInt8]]
    static let peer = PeerHandle(index: 0)

    init(version: ProtocolVersion, variant: McElieceVariant) {
        var entropyA = BenchmarkEntropy(state: 1)
        var entropyB = BenchmarkEntropy(state: 2)
        let psk = SecretBytes([UInt8](repeating: 7, count: 32))
        var a = try! CryptoServer(
            secretKey: benchmarkKeys[0].secretKey, publicKey: benchmarkKeys[0].publicKey, kems: StandardKEMs(), entropy: &entropyA)
        var b = try! CryptoServer(
            secretKey: benchmarkKeys[1].secretKey, publicKey: benchmarkKeys[1].publicKey, kems: StandardKEMs(), entropy: &entropyB)
        try! a.addPeer(PeerConfiguration(publicKey: benchmarkKeys[1].publicKey, presharedKey: psk, version: version, initiatorVariant: variant))
        try! b.addPeer(PeerConfiguration(publicKey: benchmarkKeys[0].publicKey, presharedKey: psk, version: version))
        (initiator, responder, initiatorEntropy, responderEntropy) = (a, b, entropyA, entropyB)
        var messages = [try! a.initiateHandshake(with: Self.peer, now: 0, entropy: &entropyA)]
        messages.append(try! b.handle(datagram: messages[0], from: [1], now: 0, entropy: &entropyB).reply!)
        messages.append(try! a.handle(datagram: messages[1], from: [2], now: 0, entropy: &entropyA).reply!)
        messages.append(try! b.handle(datagram: messages[2], from: [1], now: 0, entropy: &entropyB).reply!)
        _ = try! a.handle(datagram: messages[3], from: [2], now: 0, entropy: &entropyA)
        self.messages = messages
    }

    /// The initiator's whole part: InitHello, then RespHello → InitConf, then EmptyData.
    @inline(never)  // a symbol of its own, for instruction counts (BENCHMARKS.md)
    func runInitiator() {
        var server = initiator
        var entropy = initiatorEntropy
        blackHole(try! server.initiateHandshake(with: Self.peer, now: 0, entropy: &entropy))
        blackHole(try! server.handle(datagram: messages[1], from: [2], now: 0, entropy: &entropy))
        blackHole(try! server.handle(datagram: messages[3], from: [2], now: 0, entropy: &entropy))
    }

    /// The responder's whole part: InitHello → RespHello, then InitConf → EmptyData.
    @inline(never)
    func runResponder() {
        var server = responder
        var entropy = responderEntropy
        blackHole(try! server.handle(datagram: messages[0], from: [1], now: 0, entropy: &entropy))
        blackHole(try! server.handle(datagram: messages[2], from: [1], now: 0, entropy: &entropy))
    }
}

/// The primitive operations a side cannot avoid: its KEM operations and its keyed-hash passes over
/// static public keys that are mixed into the chaining key (whose key changes every handshake).
/// Values constant per peer or server (init(spk), peer ids, MAC keys) are not part of it.
private struct HandshakeFloor {
    let version: ProtocolVersion
    let variant: McElieceVariant
    let kyberPublicKey: [UInt8]
    let kyberSecretKey: SecretBytes
    let kyberCiphertext: [UInt8]
    let mcelieceCiphertext: [UInt8]
    let round3SecretKey: SecretBytes

    init(version: ProtocolVersion, variant: McElieceVariant) {
        self.version = version
        self.variant = variant
        var entropy = BenchmarkEntropy(state: 3)
        let kems = StandardKEMs()
        (kyberPublicKey, kyberSecretKey) = kems.generateEphemeralKeyPair(using: &entropy)
        kyberCiphertext = kems.encapsulateEphemeral(publicKey: kyberPublicKey, using: &entropy).ciphertext
        mcelieceCiphertext = kems.encapsulateStatic(variant, publicKey: benchmarkKeys[0].publicKey, using: &entropy).ciphertext
        round3SecretKey = kems.convertStaticSecretKey(benchmarkKeys[0].secretKey, from: .round4)
    }

    private var secretKey: SecretBytes { variant == .round3 ? round3SecretKey : benchmarkKeys[0].secretKey }

    /// One keyed-hash pass over a 524160-byte public key, as `mix(spk)` does.
    private func hashPublicKey(_ key: inout [UInt8]) {
        let publicKey = benchmarkKeys[0].publicKey
        let hash = version.keyedHash
        key.withUnsafeMutableBytes { k in
            publicKey.withUnsafeBytes { hash.hash(key: UnsafeRawBufferPointer(k), data: $0, into: k) }
        }
    }

    /// IHI3 Kyber keygen, IHI5 McEliece encaps, RHI4 Kyber decaps, RHI5 McEliece decaps; mix(spkr),
    /// mix(spki) and mix(spkm): three public-key hashes.
    @inline(never)  // a symbol of its own, for instruction counts (BENCHMARKS.md)
    func runInitiator() {
        var entropy = BenchmarkEntropy(state: 4)
        let kems = StandardKEMs()
        var key = [UInt8](repeating: 1, count: 32)
        blackHole(kems.generateEphemeralKeyPair(using: &entropy))
        blackHole(kems.encapsulateStatic(variant, publicKey: benchmarkKeys[0].publicKey, using: &entropy))
        blackHole(kems.decapsulateEphemeral(secretKey: kyberSecretKey, ciphertext: kyberCiphertext))
        blackHole(kems.decapsulateStatic(variant, secretKey: secretKey, ciphertext: mcelieceCiphertext))
        for _ in 0..<3 { hashPublicKey(&key) }
        blackHole(key)
    }

    /// IHR5 McEliece decaps, RHR4 Kyber encaps, RHR5 McEliece encaps; mix(spkm), mix(spki) twice:
    /// three public-key hashes.
    @inline(never)
    func runResponder() {
        var entropy = BenchmarkEntropy(state: 5)
        let kems = StandardKEMs()
        var key = [UInt8](repeating: 2, count: 32)
        blackHole(kems.decapsulateStatic(variant, secretKey: secretKey, ciphertext: mcelieceCiphertext))
        blackHole(kems.encapsulateEphemeral(publicKey: kyberPublicKey, using: &entropy))
        blackHole(kems.encapsulateStatic(variant, publicKey: benchmarkKeys[0].publicKey, using: &entropy))
        for _ in 0..<3 { hashPublicKey(&key) }
        blackHole(key)
    }
}

/// The handshake benchmarks: for each version and McEliece format, each side's CPU time for one
/// whole handshake, and the floor of that side in the same run. The target is side ≤ 1.25 × floor.
var handshakeBenchmarks: [Benchmark] {
    var benchmarks: [Benchmark] = []
    for version in ProtocolVersion.allCases {
        for variant in McElieceVariant.allCases {
            let tag = "handshake \(version.rawValue.lowercased()) \(variant == .round3 ? "r3" : "r4")"
            benchmarks += [
                Benchmark(name: "\(tag) initiator", bytesPerOperation: 0) {
                    let recorded = RecordedHandshake(version: version, variant: variant)
                    return { n in for _ in 0..<n { recorded.runInitiator() } }
                },
                Benchmark(name: "\(tag) initiator floor", bytesPerOperation: 0) {
                    let floor = HandshakeFloor(version: version, variant: variant)
                    return { n in for _ in 0..<n { floor.runInitiator() } }
                },
                Benchmark(name: "\(tag) responder", bytesPerOperation: 0) {
                    let recorded = RecordedHandshake(version: version, variant: variant)
                    return { n in for _ in 0..<n { recorded.runResponder() } }
                },
                Benchmark(name: "\(tag) responder floor", bytesPerOperation: 0) {
                    let floor = HandshakeFloor(version: version, variant: variant)
                    return { n in for _ in 0..<n { floor.runResponder() } }
                },
            ]
        }
    }
    return benchmarks
}
