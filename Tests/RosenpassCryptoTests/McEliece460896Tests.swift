// Classic McEliece 460896: byte-exactness against the reference's handshake vector and against
// independent implementations, for round 3 (liboqs ≤ 0.8 format) and round 4.

import Foundation
import RosenpassTestSupport
import Testing

@testable import RosenpassCrypto

/// `Fixtures/mceliece460896-r4-handshake-vector.json`, written by
/// `scripts/fixtures/generate-mceliece460896-handshake.py`.
struct McElieceHandshakeVector: Decodable {
    struct Case: Decodable {
        let name: String
        let secretKey: String
        let ciphertext: String
        let sharedKey: String
    }

    let source: String
    let cases: [Case]
}

/// `Fixtures/mceliece460896-{r3,r4}-kat.json` (with `-pk.bin`), written by
/// `scripts/fixtures/generate-mceliece460896-kat.py` from PyPI pqcrypto 0.1.3 (round 3) and 1.0.0 (round 4).
struct McElieceKnownAnswers: Decodable {
    struct KeyPair: Decodable {
        let seed: String
        let publicKeySHA3_256: String
        let secretKey: String
    }

    struct Encapsulation: Decodable {
        let coins: String
        let ciphertext: String
        let sharedKey: String
    }

    struct Rejection: Decodable {
        let description: String
        let ciphertext: String
        let sharedKey: String
    }

    struct CrossFormat: Decodable {
        let description: String
        let encapsulations: [Encapsulation]
    }

    let source: String
    let keyPairs: [KeyPair]
    let encapsulations: [Encapsulation]
    let rejections: [Rejection]
    let crossFormat: CrossFormat

    static func load(_ variant: String) throws -> McElieceKnownAnswers {
        try Fixtures.json(McElieceKnownAnswers.self, "mceliece460896-\(variant)-kat.json")
    }

    static func publicKey(_ variant: String) throws -> [UInt8] {
        [UInt8](try Fixtures.data("mceliece460896-\(variant)-pk.bin"))
    }
}

/// Hands out recorded coins in order and counts what was taken.
struct RecordedCoins: RandomBytesGenerator {
    let bytes: [UInt8]
    var position = 0

    init(_ hex: String) { bytes = Hex.decode(hex) }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        precondition(position + buffer.count <= bytes.count, "the recorded coins ran out")
        for i in 0..<buffer.count { buffer[i] = bytes[position + i] }
        position += buffer.count
    }
}

private func hex(_ secret: SecretBytes) -> String {
    secret.withUnsafeBytes { Hex.encode($0) }
}

/// The two formats behind one interface, so every check runs for both.
struct McElieceVariant: CustomTestStringConvertible, Sendable {
    let fixture: String
    let kem: any KeyEncapsulationMechanism.Type
    let generate: @Sendable (SecretBytes) throws -> (publicKey: [UInt8], secretKey: SecretBytes)
    let encapsulate: @Sendable ([UInt8], inout RecordedCoins) throws -> (ciphertext: [UInt8], sharedKey: SecretBytes)
    /// Converts a secret key of the other format into this one.
    let convertOther: @Sendable (SecretBytes) throws -> SecretBytes
    let otherFixture: String

    var testDescription: String { kem.name }

    static let round3 = McElieceVariant(
        fixture: "r3", kem: ClassicMcEliece460896.self,
        generate: { try ClassicMcEliece460896.generateKeyPair(seed: $0) },
        encapsulate: { try ClassicMcEliece460896.encapsulate(publicKey: $0, using: &$1) },
        convertOther: { try ClassicMcEliece460896.secretKey(convertingRound4Key: $0) },
        otherFixture: "r4")

    static let round4 = McElieceVariant(
        fixture: "r4", kem: ClassicMcEliece460896Round4.self,
        generate: { try ClassicMcEliece460896Round4.generateKeyPair(seed: $0) },
        encapsulate: { try ClassicMcEliece460896Round4.encapsulate(publicKey: $0, using: &$1) },
        convertOther: { try ClassicMcEliece460896Round4.secretKey(convertingRound3Key: $0) },
        otherFixture: "r3")

    static let both = [round3, round4]
}

@Suite("Classic McEliece 460896")
struct McEliece460896Tests {
    // MARK: The reference's handshake vector (round 4)

    @Test func handshakeVector_decapsulatesToRecordedKeys() throws {
        let vector = try Fixtures.json(McElieceHandshakeVector.self, "mceliece460896-r4-handshake-vector.json")
        #expect(vector.cases.count == 2)
        for known in vector.cases {
            let key = try ClassicMcEliece460896Round4.decapsulate(
                secretKey: SecretBytes(Hex.decode(known.secretKey)), ciphertext: Hex.decode(known.ciphertext))
            #expect(hex(key) == known.sharedKey, "\(known.name)")
        }
    }

    // MARK: Known answers from the independent implementations

    @Test(arguments: McElieceVariant.both)
    func keyGeneration_fromSeed_matchesIndependentImplementation(_ variant: McElieceVariant) throws {
        let answers = try McElieceKnownAnswers.load(variant.fixture)
        #expect(answers.keyPairs.count == 2)
        let recordedPublicKey = try McElieceKnownAnswers.publicKey(variant.fixture)
        for (index, known) in answers.keyPairs.enumerated() {
            let (publicKey, secretKey) = try variant.generate(SecretBytes(Hex.decode(known.seed)))
            #expect(Hex.encode(SHA3_256.hash(publicKey)) == known.publicKeySHA3_256, "public key \(index)")
            #expect(hex(secretKey) == known.secretKey, "secret key \(index)")
            if index == 0 { #expect(publicKey == recordedPublicKey) }
        }
    }

    @Test(arguments: McElieceVariant.both)
    func encapsulation_fromCoins_matchesIndependentImplementation(_ variant: McElieceVariant) throws {
        let answers = try McElieceKnownAnswers.load(variant.fixture)
        let publicKey = try McElieceKnownAnswers.publicKey(variant.fixture)
        #expect(answers.encapsulations.count == 6)
        for (index, known) in answers.encapsulations.enumerated() {
            var coins = RecordedCoins(known.coins)
            let (ciphertext, sharedKey) = try variant.encapsulate(publicKey, &coins)
            #expect(Hex.encode(ciphertext) == known.ciphertext, "ciphertext \(index)")
            #expect(hex(sharedKey) == known.sharedKey, "shared key \(index)")
            #expect(coins.position == coins.bytes.count, "FixedWeight takes 384 bytes per attempt, \(index)")
        }
    }

    @Test(arguments: McElieceVariant.both)
    func decapsulation_matchesIndependentImplementation_includingRejections(_ variant: McElieceVariant) throws {
        let answers = try McElieceKnownAnswers.load(variant.fixture)
        let secretKey = SecretBytes(Hex.decode(answers.keyPairs[0].secretKey))
        for known in answers.encapsulations {
            let key = try variant.kem.decapsulate(secretKey: secretKey, ciphertext: Hex.decode(known.ciphertext))
            #expect(hex(key) == known.sharedKey)
        }
        #expect(answers.rejections.count >= 5)
        for known in answers.rejections {
            let key = try variant.kem.decapsulate(secretKey: secretKey, ciphertext: Hex.decode(known.ciphertext))
            #expect(hex(key) == known.sharedKey, "\(known.description)")
            #expect(hex(key) != answers.encapsulations[0].sharedKey, "\(known.description) must not decapsulate")
        }
    }

    /// The implementation encapsulated to the public key of a seed; our own key pair from that seed (not
    /// the recorded secret key) decapsulates every ciphertext to the same key.
    @Test(arguments: McElieceVariant.both)
    func ourKeyPair_decapsulatesWhatTheIndependentImplementationEncapsulated(_ variant: McElieceVariant) throws {
        let answers = try McElieceKnownAnswers.load(variant.fixture)
        let (publicKey, secretKey) = try variant.generate(SecretBytes(Hex.decode(answers.keyPairs[0].seed)))
        #expect(Hex.encode(SHA3_256.hash(publicKey)) == answers.keyPairs[0].publicKeySHA3_256)
        for known in answers.encapsulations {
            let key = try variant.kem.decapsulate(secretKey: secretKey, ciphertext: Hex.decode(known.ciphertext))
            #expect(hex(key) == known.sharedKey)
        }
        // And our own round trip on the same key pair.
        let (ciphertext, sharedKey) = try variant.kem.encapsulate(publicKey: publicKey)
        #expect(hex(try variant.kem.decapsulate(secretKey: secretKey, ciphertext: ciphertext)) == hex(sharedKey))
    }

    /// One key pair, both formats: the other format's secret key, converted, decapsulates ciphertexts
    /// that this format's independent implementation encapsulated to the other format's public key.
    @Test(arguments: McElieceVariant.both)
    func convertedSecretKey_servesTheOtherCiphertextFormat(_ variant: McElieceVariant) throws {
        let answers = try McElieceKnownAnswers.load(variant.fixture)
        let other = try McElieceKnownAnswers.load(variant.otherFixture)
        let otherPublicKey = try McElieceKnownAnswers.publicKey(variant.otherFixture)
        let converted = try variant.convertOther(SecretBytes(Hex.decode(other.keyPairs[0].secretKey)))
        #expect(converted.count == variant.kem.secretKeyCount)
        #expect(answers.crossFormat.encapsulations.count == 2)
        for known in answers.crossFormat.encapsulations {
            #expect(hex(try variant.kem.decapsulate(secretKey: converted, ciphertext: Hex.decode(known.ciphertext))) == known.sharedKey)
            var coins = RecordedCoins(known.coins)
            let (ciphertext, sharedKey) = try variant.encapsulate(otherPublicKey, &coins)
            #expect(Hex.encode(ciphertext) == known.ciphertext)
            #expect(hex(sharedKey) == known.sharedKey)
        }
    }

    @Test func secretKeyConversion_roundTripsAndKeepsTheFields() throws {
        let round4 = try McElieceKnownAnswers.load("r4").keyPairs[0].secretKey
        let round4Key = SecretBytes(Hex.decode(round4))
        let round3Key = try ClassicMcEliece460896.secretKey(convertingRound4Key: round4Key)
        #expect(round3Key.count == 13_568)
        let back = try ClassicMcEliece460896Round4.secretKey(convertingRound3Key: round3Key)
        let original = Hex.decode(round4)
        let restored = back.unprotectedArray()
        #expect(Array(restored[0..<32]) == [UInt8](repeating: 0, count: 32), "format A keeps no seed")
        #expect(Array(restored[32..<40]) == [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0])
        #expect(Array(restored[40...]) == Array(original[40...]))
        // Format A → round 4 → format A is the identity.
        let round3 = try McElieceKnownAnswers.load("r3").keyPairs[0].secretKey
        let again = try ClassicMcEliece460896.secretKey(
            convertingRound4Key: ClassicMcEliece460896Round4.secretKey(convertingRound3Key: SecretBytes(Hex.decode(round3))))
        #expect(hex(again) == round3)
    }

    // MARK: Sizes and errors

    @Test func sizesAndNames() {
        #expect(ClassicMcEliece460896.name == "mceliece460896")
        #expect(ClassicMcEliece460896Round4.name == "mceliece460896-r4")
        #expect(ClassicMcEliece460896.publicKeyCount == 524_160)
        #expect(ClassicMcEliece460896Round4.publicKeyCount == 524_160)
        #expect(ClassicMcEliece460896.secretKeyCount == 13_568)
        #expect(ClassicMcEliece460896Round4.secretKeyCount == 13_608)
        #expect(ClassicMcEliece460896.ciphertextCount == 188)
        #expect(ClassicMcEliece460896Round4.ciphertextCount == 156)
        #expect(ClassicMcEliece460896.sharedKeyCount == 32)
    }

    @Test func wrongSizes_throwInvalidLength() throws {
        #expect(throws: CryptoError.invalidLength("Classic McEliece 460896 public key", expected: 524_160, actual: 10)) {
            try ClassicMcEliece460896.encapsulate(publicKey: [UInt8](repeating: 0, count: 10))
        }
        #expect(throws: CryptoError.self) {
            try ClassicMcEliece460896.decapsulate(secretKey: SecretBytes(zeros: 13_608), ciphertext: [UInt8](repeating: 0, count: 188))
        }
        #expect(throws: CryptoError.self) {
            try ClassicMcEliece460896Round4.decapsulate(secretKey: SecretBytes(zeros: 13_608), ciphertext: [UInt8](repeating: 0, count: 188))
        }
        #expect(throws: CryptoError.self) {
            try ClassicMcEliece460896Round4.generateKeyPair(seed: SecretBytes(zeros: 31))
        }
        #expect(throws: CryptoError.self) {
            try ClassicMcEliece460896.secretKey(convertingRound4Key: SecretBytes(zeros: 13_568))
        }
    }

    /// A secret key of zeros is malformed (g = y^96 has the root 0): decapsulation must still return the
    /// rejection key, not crash.
    @Test func malformedSecretKey_givesTheRejectionKey() throws {
        let ciphertext = [UInt8](repeating: 0x5A, count: 156)
        let key = try ClassicMcEliece460896Round4.decapsulate(secretKey: SecretBytes(zeros: 13_608), ciphertext: ciphertext)
        let expected = SHAKE256.hash([0] + [UInt8](repeating: 0, count: 576) + ciphertext, outputCount: 32)
        #expect(key.unprotectedArray() == expected)
    }

    // MARK: Small stacks

    /// Everything runs on a thread with a 512 KiB stack: the large buffers live on the heap.
    @Test func allOperations_runOnA512KiBStack() throws {
        let cases = try McElieceVariant.both.map { variant in
            let keyPair = try McElieceKnownAnswers.load(variant.fixture).keyPairs[0]
            return (variant, Hex.decode(keyPair.seed), keyPair.publicKeySHA3_256)
        }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome = "not run"
        let thread = Thread {
            do {
                for (variant, seed, expected) in cases {
                    let (publicKey, secretKey) = try variant.generate(SecretBytes(seed))
                    guard Hex.encode(SHA3_256.hash(publicKey)) == expected else { outcome = "wrong key, \(variant.kem.name)"; break }
                    let (ciphertext, sharedKey) = try variant.kem.encapsulate(publicKey: publicKey)
                    let decapsulated = try variant.kem.decapsulate(secretKey: secretKey, ciphertext: ciphertext)
                    guard decapsulated.constantTimeEquals(sharedKey) else { outcome = "keys differ, \(variant.kem.name)"; break }
                    outcome = "ok"
                }
            } catch {
                outcome = "\(error)"
            }
            done.signal()
        }
        thread.stackSize = 512 * 1024
        thread.start()
        done.wait()
        #expect(outcome == "ok")
    }
}
