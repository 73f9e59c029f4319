// The decoded handshake test-vector format and a replay harness that injects its Const entries.

import Foundation
import RosenpassCrypto
import RosenpassTestSupport
import Testing

@testable import RosenpassProtocol

/// A recorded handshake between server A (initiator) and server B (responder), in the decoded format
/// of `crypto_server_v03.json` (see its README): entries of type Const (randomness to inject) and
/// Output (values to reproduce), each tagged with the Rust test-vector field that produced it.
struct HandshakeVector: Decodable {
    struct ProtocolInfo: Decodable {
        let version: String
    }

    struct Hook: Decodable {
        let party: String
        let set_field: String
    }

    struct Entry: Decodable {
        let index: Int
        let entry_type: String
        let hook: Hook
        let value: String

        var bytes: [UInt8] { Hex.decode(value) }
        var isConst: Bool { entry_type == "Const" }
    }

    let `protocol`: ProtocolInfo
    let entries: [Entry]

    var version: ProtocolVersion {
        get throws {
            guard let version = ProtocolVersion(rawValue: self.protocol.version) else {
                throw VectorError("unknown protocol.version \(self.protocol.version)")
            }
            return version
        }
    }

    /// The single entry whose set_field is `field` (and party, when given).
    func entry(_ field: String, party: String? = nil) throws -> Entry {
        let matches = entries.filter { $0.hook.set_field == field && (party == nil || $0.hook.party == party) }
        guard matches.count == 1 else { throw VectorError("expected one entry \(field) (\(party ?? "any")), found \(matches.count)") }
        return matches[0]
    }

    /// Every entry whose set_field is `field`, in order.
    func entries(_ field: String, party: String? = nil) -> [Entry] {
        entries.filter { $0.hook.set_field == field && (party == nil || $0.hook.party == party) }
    }

    /// Every entry whose set_field starts with `prefix` and belongs to `party`, in order.
    func entries(prefix: String, party: String) -> [Entry] {
        entries.filter { $0.hook.set_field.hasPrefix(prefix) && $0.hook.party.contains(party) }
    }

    static func load(_ url: URL) throws -> HandshakeVector {
        try JSONDecoder().decode(HandshakeVector.self, from: Data(contentsOf: url))
    }
}

struct VectorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A queue of recorded values shared by a party's entropy source and KEM suite.
final class RecordedValues: @unchecked Sendable {
    private let lock = NSLock()
    private var queues: [String: [[UInt8]]] = [:]
    private(set) var trace: [TracePoint: [UInt8]] = [:]

    func push(_ key: String, _ value: [UInt8]) {
        lock.withLock { queues[key, default: []].append(value) }
    }

    func pop(_ key: String) -> [UInt8] {
        lock.withLock {
            guard var queue = queues[key], !queue.isEmpty else {
                preconditionFailure("the replay needs a recorded value for \(key) and has none left")
            }
            let value = queue.removeFirst()
            queues[key] = queue
            return value
        }
    }

    func remaining(_ key: String) -> Int { lock.withLock { queues[key]?.count ?? 0 } }

    func record(_ point: TracePoint, _ value: [UInt8]) { lock.withLock { trace[point] = value } }
}

/// Entropy that hands out recorded values by purpose and records the trace.
struct ReplayEntropy: HandshakeEntropy {
    let values: RecordedValues

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer, for purpose: EntropyPurpose) {
        if purpose == .retransmitJitter || purpose == .kem {
            buffer.initializeMemory(as: UInt8.self, repeating: 0x55)  // not recorded, never on the wire
            return
        }
        let value = values.pop("\(purpose)")
        precondition(value.count == buffer.count, "recorded \(purpose) has \(value.count) bytes, wanted \(buffer.count)")
        value.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }

    mutating func record(_ point: TracePoint, _ value: UnsafeRawBufferPointer) { values.record(point, Array(value)) }
}

/// KEMs whose randomized operations return recorded values; decapsulation and key conversion are
/// delegated to `real`.
struct ReplayKEMs: KEMSuite {
    let values: RecordedValues
    let real: any KEMSuite

    func generateEphemeralKeyPair(using entropy: inout some HandshakeEntropy) -> (publicKey: [UInt8], secretKey: SecretBytes) {
        let secretKey = values.pop("eski")
        return (values.pop("epki"), SecretBytes(secretKey))
    }

    func encapsulateEphemeral(publicKey: [UInt8], using entropy: inout some HandshakeEntropy) -> (ciphertext: [UInt8], sharedKey: SecretBytes) {
        let shared = values.pop("ephemeral shk")
        return (values.pop("ephemeral ct"), SecretBytes(shared))
    }

    func decapsulateEphemeral(secretKey: SecretBytes, ciphertext: [UInt8]) -> SecretBytes {
        real.decapsulateEphemeral(secretKey: secretKey, ciphertext: ciphertext)
    }

    func encapsulateStatic(
        _ variant: McElieceVariant, publicKey: [UInt8], using entropy: inout some HandshakeEntropy
    ) -> (ciphertext: [UInt8], sharedKey: SecretBytes) {
        let shared = values.pop("static shk")
        let ciphertext = values.pop("static ct")
        precondition(ciphertext.count == variant.ciphertextCount)
        return (ciphertext, SecretBytes(shared))
    }

    func decapsulateStatic(_ variant: McElieceVariant, secretKey: SecretBytes, ciphertext: [UInt8]) -> SecretBytes {
        real.decapsulateStatic(variant, secretKey: secretKey, ciphertext: ciphertext)
    }

    func convertStaticSecretKey(_ secretKey: SecretBytes, from variant: McElieceVariant) -> SecretBytes {
        real.convertStaticSecretKey(secretKey, from: variant)
    }
}

/// KEM decapsulation answered from the vector's own encapsulations (ciphertext → recorded shared
/// key): lets the symmetric part of a replay run without a McEliece implementation. Everything
/// else is refused.
struct RecordedDecapsulation: KEMSuite {
    let sharedKeys: [[UInt8]: [UInt8]]

    func generateEphemeralKeyPair(using entropy: inout some HandshakeEntropy) -> (publicKey: [UInt8], secretKey: SecretBytes) {
        preconditionFailure("not recorded")
    }
    func encapsulateEphemeral(publicKey: [UInt8], using entropy: inout some HandshakeEntropy) -> (ciphertext: [UInt8], sharedKey: SecretBytes) {
        preconditionFailure("not recorded")
    }
    func decapsulateEphemeral(secretKey: SecretBytes, ciphertext: [UInt8]) -> SecretBytes { lookup(ciphertext) }
    func encapsulateStatic(
        _ variant: McElieceVariant, publicKey: [UInt8], using entropy: inout some HandshakeEntropy
    ) -> (ciphertext: [UInt8], sharedKey: SecretBytes) { preconditionFailure("not recorded") }
    func decapsulateStatic(_ variant: McElieceVariant, secretKey: SecretBytes, ciphertext: [UInt8]) -> SecretBytes {
        lookup(ciphertext)
    }
    /// The layout conversion is not exercised without McEliece: keep the key as it is.
    func convertStaticSecretKey(_ secretKey: SecretBytes, from variant: McElieceVariant) -> SecretBytes { secretKey }

    private func lookup(_ ciphertext: [UInt8]) -> SecretBytes {
        guard let shared = sharedKeys[ciphertext] else { preconditionFailure("ciphertext not in the vector") }
        return SecretBytes(shared)
    }
}

/// The outcome of replaying a vector: what each party produced, for comparison with the Outputs.
struct ReplayResult {
    var traceA: [TracePoint: [UInt8]]
    var traceB: [TracePoint: [UInt8]]
    var messages: [[UInt8]]
    var outputKeyA: [UInt8]?
    var outputKeyB: [UInt8]?
}

enum VectorReplay {
    /// Queues the Const entries of one party under the keys ``ReplayEntropy`` and ``ReplayKEMs`` use.
    static func recordedValues(_ vector: HandshakeVector, party: String) -> RecordedValues {
        let values = RecordedValues()
        for entry in vector.entries where entry.isConst && entry.hook.party == party {
            let field = entry.hook.set_field
            let key: String?
            switch field {
            case "CryptoServerTestValues.cookie_secret_0", "CryptoServerTestValues.cookie_secret_1": key = "cookieSecret"
            case "CryptoServerTestValues.biscuit_key_0", "CryptoServerTestValues.biscuit_key_1",
                "CycledBiscuitSecretKeyTestValues.cycled_biscuit_secret_key":
                key = "biscuitKey"
            case "HandleInitiationTestValues.init_handshake_cookie": key = "cookieValue"
            case "HandleInitiationTestValues.init_handshake_sidi", "HandleInitHelloTestValues.session_id": key = "sessionID"
            case "HandleInitiationTestValues.init_handshake_eski": key = "eski"
            case "HandleInitiationTestValues.init_handshake_epki": key = "epki"
            case "StoreBiscuitTestValues.n": key = "biscuitNonce"
            default:
                if field.hasPrefix("EncapsAndMixTestValues<768,") {
                    key = field.hasSuffix(".shk") ? "ephemeral shk" : "ephemeral ct"
                } else if field.hasPrefix("EncapsAndMixTestValues<") {
                    key = field.hasSuffix(".shk") ? "static shk" : "static ct"
                } else {
                    key = nil
                }
            }
            if let key { values.push(key, entry.bytes) }
        }
        return values
    }

    /// Runs the recorded handshake through two crypto servers: A initiates, B responds, each
    /// message goes to the other side, and the loop ends when a side sends nothing.
    static func replay(_ vector: HandshakeVector, realKEMs: (any KEMSuite)?) throws -> ReplayResult {
        let version = try vector.version
        let skA = SecretBytes(try vector.entry("TestCaseValues.peer_a_sk").bytes)
        let pkA = try vector.entry("TestCaseValues.peer_a_pk").bytes
        let skB = SecretBytes(try vector.entry("TestCaseValues.peer_b_sk").bytes)
        let pkB = try vector.entry("TestCaseValues.peer_b_pk").bytes
        let psk = SecretBytes(try vector.entry("TestCaseValues.psk").bytes)

        let valuesA = recordedValues(vector, party: "A")
        let valuesB = recordedValues(vector, party: "B")
        let backing: any KEMSuite = realKEMs ?? recordedDecapsulation(vector)
        var entropyA = ReplayEntropy(values: valuesA)
        var entropyB = ReplayEntropy(values: valuesB)
        var serverA = try CryptoServer(
            secretKey: skA, publicKey: pkA, kems: ReplayKEMs(values: valuesA, real: backing), entropy: &entropyA)
        var serverB = try CryptoServer(
            secretKey: skB, publicKey: pkB, kems: ReplayKEMs(values: valuesB, real: backing), entropy: &entropyB)
        // The vector was recorded with the format of its secret keys; a configured format also keeps
        // the handshake to one InitHello, as recorded (no probing of the peer's format).
        let variant = McElieceVariant(secretKeyCount: skA.count)
        let peerB = try serverA.addPeer(PeerConfiguration(publicKey: pkB, presharedKey: psk, version: version, initiatorVariant: variant))
        let peerA = try serverB.addPeer(PeerConfiguration(publicKey: pkA, presharedKey: psk, version: version, initiatorVariant: variant))
        #expect(peerA.index == 0 && peerB.index == 0)

        var result = ReplayResult(traceA: [:], traceB: [:], messages: [])
        let now: Seconds = 0
        var message = try serverA.initiateHandshake(with: peerB, now: now, entropy: &entropyA)
        var toB = true
        while true {
            result.messages.append(message)
            let outcome =
                toB
                ? try serverB.handle(datagram: message, from: [1], now: now, entropy: &entropyB)
                : try serverA.handle(datagram: message, from: [2], now: now, entropy: &entropyA)
            for case .keyExchanged(_, let key) in outcome.events {
                if toB { result.outputKeyB = key.bytes.unprotectedArray() } else { result.outputKeyA = key.bytes.unprotectedArray() }
            }
            guard let reply = outcome.reply else { break }
            message = reply
            toB.toggle()
        }
        result.traceA = valuesA.trace
        result.traceB = valuesB.trace
        for key in ["cookieValue", "sessionID", "eski", "epki", "biscuitNonce", "biscuitKey", "static ct", "ephemeral ct"] {
            #expect(valuesA.remaining(key) == 0 && valuesB.remaining(key) == 0, "unused recorded \(key)")
        }
        return result
    }

    /// Decapsulation from the vector's own (ciphertext, shared key) pairs.
    static func recordedDecapsulation(_ vector: HandshakeVector) -> RecordedDecapsulation {
        var table: [[UInt8]: [UInt8]] = [:]
        for party in ["A", "B"] {
            let pairs = vector.entries(prefix: "EncapsAndMixTestValues<", party: party)
            for pair in stride(from: 0, to: pairs.count - 1, by: 2) {
                table[pairs[pair + 1].bytes] = pairs[pair].bytes  // .shk then .ct
            }
        }
        return RecordedDecapsulation(sharedKeys: table)
    }

    /// Compares every Output entry with what the replay produced.
    static func check(_ vector: HandshakeVector, _ result: ReplayResult, name: String) throws {
        let traceFields: [String: (party: String, point: TracePoint)] = [
            "HandleInitiationTestValues.init_handshake_mix_1": ("A", .ihi4ChainingKey),
            "HandleInitiationTestValues.init_handshake_mix_2": ("A", .ihi5ChainingKey),
            "HandleInitiationTestValues.init_hello_pidi_ct": ("A", .ihi6PeerIDCiphertext),
            "HandleInitiationTestValues.init_handshake_mix_3": ("A", .ihi6ChainingKey),
            "HandleInitiationTestValues.init_handshake_mix_4": ("A", .ihi7ChainingKey),
            "HandleInitiationTestValues.init_hello_auth": ("A", .ihi8Auth),
            "HandleInitiationTestValues.init_handshake_mix_5": ("A", .ihi8ChainingKey),
            "HandleInitHelloTestValues.chaining_key_ihr_4": ("B", .ihr4ChainingKey),
            "HandleInitHelloTestValues.chaining_key_ihr_5": ("B", .ihr5ChainingKey),
            "HandleInitHelloTestValues.chaining_key_ihr_6": ("B", .ihr6ChainingKey),
            "HandleInitHelloTestValues.chaining_key_ihr_7": ("B", .ihr7ChainingKey),
            "HandleInitHelloTestValues.chaining_key_ihr_8": ("B", .ihr8ChainingKey),
            "HandleInitHelloTestValues.chaining_key_rhr_3": ("B", .rhr3ChainingKey),
            "HandleInitHelloTestValues.chaining_key_rhr_4": ("B", .rhr4ChainingKey),
            "HandleInitHelloTestValues.chaining_key_rhr_5": ("B", .rhr5ChainingKey),
            "StoreBiscuitTestValues.biscuit": ("B", .rhr6BiscuitPlaintext),
            "StoreBiscuitTestValues.biscuit_ct": ("B", .rhr6BiscuitCiphertext),
            "HandleInitHelloTestValues.chaining_key_rhr_6": ("B", .rhr6ChainingKey),
            "HandleInitHelloTestValues.chaining_key_rhr_7": ("B", .rhr7ChainingKey),
        ]
        var messageIndex = 0
        var checked = 0
        for entry in vector.entries where !entry.isConst {
            let field = entry.hook.set_field
            let expected = entry.value
            if let (party, point) = traceFields[field] {
                let trace = party == "A" ? result.traceA : result.traceB
                #expect(trace[point].map(Hex.encode) == expected, "\(name): entry \(entry.index) \(field) differs")
            } else if field == "TestCaseValues.message" {
                guard messageIndex < result.messages.count else {
                    Issue.record("\(name): entry \(entry.index): the replay sent only \(result.messages.count) messages")
                    continue
                }
                let produced = result.messages[messageIndex]
                let recorded = entry.bytes
                if produced.first == MessageType.emptyData.rawValue, recorded.count == 64, messageIndex >= 1 {
                    // The reference leaves stale transmit-buffer bytes in EmptyData's unspecified cookie
                    // field: they repeat bytes 48..<64 of the RespHello (README quirk 2). We send zeros.
                    #expect(Hex.encode(produced[0..<48]) == Hex.encode(recorded[0..<48]), "\(name): EmptyData differs")
                    let respHello = result.messages[messageIndex - 2]
                    #expect(recorded[48..<64] == respHello[48..<64] || recorded[48..<64].allSatisfy { $0 == 0 })
                    #expect(produced[48..<64].allSatisfy { $0 == 0 })
                } else {
                    #expect(Hex.encode(produced) == expected, "\(name): message \(messageIndex + 1) (entry \(entry.index)) differs")
                }
                messageIndex += 1
            } else if field == "TestCaseValues.exchanged_key" {
                #expect(result.outputKeyA.map(Hex.encode) == expected, "\(name): A's output key differs")
                #expect(result.outputKeyB.map(Hex.encode) == expected, "\(name): B's output key differs")
            } else {
                Issue.record("\(name): entry \(entry.index) has an Output field the replay does not know: \(field)")
                continue
            }
            checked += 1
        }
        #expect(messageIndex == result.messages.count, "\(name): the replay sent more messages than recorded")
        #expect(checked == vector.entries.filter { !$0.isConst }.count)
    }

    /// The vectors to replay: every `crypto_server_*.json` fixture, plus every `*.json` in the folder
    /// named by `ROSENPASS_TEST_VECTORS`.
    static func allVectorURLs() throws -> [URL] {
        let fixtures = Fixtures.url("crypto_server_v03.json").deletingLastPathComponent()
        var urls = try FileManager.default.contentsOfDirectory(at: fixtures, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasPrefix("crypto_server_") && $0.pathExtension == "json" }
        if let folder = ProcessInfo.processInfo.environment["ROSENPASS_TEST_VECTORS"], !folder.isEmpty {
            let extra = try FileManager.default.contentsOfDirectory(at: URL(fileURLWithPath: folder), includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "json" }
            if extra.isEmpty { throw VectorError("ROSENPASS_TEST_VECTORS=\(folder) holds no .json vector") }
            urls += extra
        }
        return urls.sorted { $0.path < $1.path }
    }
}
