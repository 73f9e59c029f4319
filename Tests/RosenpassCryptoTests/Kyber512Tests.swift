// Kyber-512 (round 3): known answers from an independent implementation (kyber-py 1.2.0), the
// reference's handshake vector, the differences from ML-KEM, and the arithmetic underneath.

import Foundation
import RosenpassTestSupport
import Testing

@testable import RosenpassCrypto

/// `Fixtures/kyber512-kat.json`, written by `scripts/fixtures/generate-kyber512-kat.py`.
struct Kyber512KnownAnswers: Decodable {
    struct Case: Decodable {
        struct Tampered: Decodable {
            let description: String
            let ciphertext: String
            let sharedKey: String
        }

        struct MLKEM: Decodable {
            let publicKeySHA3_256: String
            let sharedKey: String
        }

        let name: String
        let keyPairCoins: String
        let publicKey: String
        let secretKey: String
        let encapsulationCoins: String
        let ciphertext: String
        let sharedKey: String
        let tampered: [Tampered]
        let mlkem512: MLKEM
    }

    struct NoncanonicalPublicKey: Decodable {
        let description: String
        let publicKey: String
        let encapsulationCoins: String
        let ciphertext: String
        let sharedKey: String
    }

    let source: String
    let cases: [Case]
    let noncanonicalPublicKey: NoncanonicalPublicKey

    static func load() throws -> Kyber512KnownAnswers {
        try Fixtures.json(Kyber512KnownAnswers.self, "kyber512-kat.json")
    }
}

/// `Fixtures/kyber512-handshake-vector.json`: entries 15 (eski), 35 (ecti) and 34 (shk) of the
/// reference's handshake test vector.
struct Kyber512HandshakeVector: Decodable {
    let eski: String
    let ecti: String
    let shk: String
}

private func hex(_ secret: SecretBytes) -> String {
    secret.withUnsafeBytes { Hex.encode($0) }
}

@Suite("Kyber-512 round 3")
struct Kyber512Tests {
    // MARK: Known answers

    @Test func keyGeneration_fromCoins_matchesKyberPy() throws {
        let answers = try Kyber512KnownAnswers.load()
        #expect(answers.cases.count >= 6)
        for known in answers.cases {
            let (publicKey, secretKey) = try Kyber512.generateKeyPair(coins: Hex.decode(known.keyPairCoins))
            #expect(Hex.encode(publicKey) == known.publicKey, "public key, \(known.name)")
            #expect(hex(secretKey) == known.secretKey, "secret key, \(known.name)")
        }
    }

    @Test func encapsulation_fromCoins_matchesKyberPy() throws {
        for known in try Kyber512KnownAnswers.load().cases {
            let (ciphertext, sharedKey) = try Kyber512.encapsulate(
                publicKey: Hex.decode(known.publicKey), coins: Hex.decode(known.encapsulationCoins))
            #expect(Hex.encode(ciphertext) == known.ciphertext, "ciphertext, \(known.name)")
            #expect(hex(sharedKey) == known.sharedKey, "shared key, \(known.name)")
        }
    }

    @Test func decapsulation_matchesKyberPy() throws {
        for known in try Kyber512KnownAnswers.load().cases {
            let sharedKey = try Kyber512.decapsulate(
                secretKey: SecretBytes(Hex.decode(known.secretKey)), ciphertext: Hex.decode(known.ciphertext))
            #expect(hex(sharedKey) == known.sharedKey, "\(known.name)")
        }
    }

    @Test func decapsulate_rejectsTamperedCiphertexts_withRejectionKey() throws {
        for known in try Kyber512KnownAnswers.load().cases {
            let secretKeyBytes = Hex.decode(known.secretKey)
            let secretKey = SecretBytes(secretKeyBytes)
            #expect(known.tampered.count == 6)
            for tampered in known.tampered {
                let ciphertext = Hex.decode(tampered.ciphertext)
                let key = try Kyber512.decapsulate(secretKey: secretKey, ciphertext: ciphertext)
                #expect(hex(key) == tampered.sharedKey, "\(known.name): \(tampered.description)")
                #expect(hex(key) != known.sharedKey, "\(known.name): \(tampered.description)")
                // Round 3's rejection key: SHAKE256(z ‖ H(c)), z the last 32 bytes of the secret key.
                let expected = SHAKE256.hash(
                    Array(secretKeyBytes.suffix(32)) + SHA3_256.hash(ciphertext), outputCount: 32)
                #expect(hex(key) == Hex.encode(expected), "\(known.name): \(tampered.description)")
            }
        }
    }

    @Test func encapsulate_acceptsNoncanonicalPublicKey_asRound3Does() throws {
        let known = try Kyber512KnownAnswers.load().noncanonicalPublicKey
        let (ciphertext, sharedKey) = try Kyber512.encapsulate(
            publicKey: Hex.decode(known.publicKey), coins: Hex.decode(known.encapsulationCoins))
        #expect(Hex.encode(ciphertext) == known.ciphertext)
        #expect(hex(sharedKey) == known.sharedKey)
    }

    @Test func decapsulation_ofHandshakeVector_givesRecordedSharedKey() throws {
        let vector = try Fixtures.json(Kyber512HandshakeVector.self, "kyber512-handshake-vector.json")
        let eski = Hex.decode(vector.eski)
        #expect(eski.count == Kyber512.secretKeyCount)
        let key = try Kyber512.decapsulate(secretKey: SecretBytes(eski), ciphertext: Hex.decode(vector.ecti))
        #expect(hex(key) == vector.shk)
    }

    /// ML-KEM-512 uses the same lattice arithmetic; a regression to its key derivation must show here.
    @Test func keysAndSharedKeys_differFromMLKEM512() throws {
        for known in try Kyber512KnownAnswers.load().cases {
            let (publicKey, _) = try Kyber512.generateKeyPair(coins: Hex.decode(known.keyPairCoins))
            #expect(Hex.encode(SHA3_256.hash(publicKey)) != known.mlkem512.publicKeySHA3_256, "\(known.name)")
            let (_, sharedKey) = try Kyber512.encapsulate(
                publicKey: publicKey, coins: Hex.decode(known.encapsulationCoins))
            #expect(hex(sharedKey) != known.mlkem512.sharedKey, "\(known.name)")
            #expect(hex(sharedKey) == known.sharedKey, "\(known.name)")
        }
    }

    // MARK: Behaviour with system randomness

    @Test func randomKeyPairs_roundTrip_andRejectForeignCiphertexts() throws {
        var seenKeys = Set<String>()
        for _ in 0..<16 {
            let (publicKey, secretKey) = Kyber512.generateKeyPair()
            #expect(publicKey.count == 800 && secretKey.count == 1632)
            let (ciphertext, sharedKey) = try Kyber512.encapsulate(publicKey: publicKey)
            #expect(ciphertext.count == 768 && sharedKey.count == 32)
            #expect(try Kyber512.decapsulate(secretKey: secretKey, ciphertext: ciphertext).constantTimeEquals(sharedKey))
            seenKeys.insert(hex(sharedKey))

            // Another key pair decapsulates the same ciphertext to its rejection key, not to the shared key.
            let (_, otherSecretKey) = Kyber512.generateKeyPair()
            let rejected = try Kyber512.decapsulate(secretKey: otherSecretKey, ciphertext: ciphertext)
            #expect(!rejected.constantTimeEquals(sharedKey))
        }
        #expect(seenKeys.count == 16)
    }

    @Test func deterministicEntryPoints_agreeWithRandomOnes() throws {
        let coins = SecretBytes.random(count: 64)
        let first = try Kyber512.generateKeyPair(coins: coins)
        let second = try Kyber512.generateKeyPair(coins: coins.unprotectedArray())
        #expect(first.publicKey == second.publicKey)
        #expect(first.secretKey.constantTimeEquals(second.secretKey))
        // The secret key embeds the public key, its SHA3-256 hash and z.
        let secretKeyBytes = first.secretKey.unprotectedArray()
        #expect(Array(secretKeyBytes[768..<1568]) == first.publicKey)
        #expect(Array(secretKeyBytes[1568..<1600]) == SHA3_256.hash(first.publicKey))
        #expect(Array(secretKeyBytes[1600..<1632]) == Array(coins.unprotectedArray()[32..<64]))
    }

    @Test func wrongSizes_throwInvalidLength() throws {
        let (publicKey, secretKey) = Kyber512.generateKeyPair()
        let (ciphertext, _) = try Kyber512.encapsulate(publicKey: publicKey)
        #expect(throws: CryptoError.invalidLength("Kyber-512 public key", expected: 800, actual: 799)) {
            try Kyber512.encapsulate(publicKey: Array(publicKey.dropLast()))
        }
        #expect(throws: CryptoError.invalidLength("Kyber-512 encapsulation coins", expected: 32, actual: 31)) {
            try Kyber512.encapsulate(publicKey: publicKey, coins: [UInt8](repeating: 1, count: 31))
        }
        #expect(throws: CryptoError.invalidLength("Kyber-512 key generation coins", expected: 64, actual: 32)) {
            try Kyber512.generateKeyPair(coins: [UInt8](repeating: 1, count: 32))
        }
        #expect(throws: CryptoError.invalidLength("Kyber-512 secret key", expected: 1632, actual: 1633)) {
            try Kyber512.decapsulate(secretKey: SecretBytes(secretKey.unprotectedArray() + [0]), ciphertext: ciphertext)
        }
        #expect(throws: CryptoError.invalidLength("Kyber-512 ciphertext", expected: 768, actual: 769)) {
            try Kyber512.decapsulate(secretKey: secretKey, ciphertext: ciphertext + [0])
        }
    }

    @Test func sizesAndName_matchLiboqs() {
        #expect(Kyber512.name == "kyber512")
        #expect(Kyber512.publicKeyCount == 800)
        #expect(Kyber512.secretKeyCount == 1632)
        #expect(Kyber512.ciphertextCount == 768)
        #expect(Kyber512.sharedKeyCount == 32)
        #expect(Kyber512.keyPairCoinsCount == 64)
        #expect(Kyber512.encapsulationCoinsCount == 32)
    }
}

/// The arithmetic and encodings under the KEM, checked against plain integer arithmetic.
@Suite("Kyber-512 arithmetic")
struct Kyber512ArithmeticTests {
    static let q = 3329

    private static func mod(_ a: Int) -> Int { ((a % q) + q) % q }

    /// Runs `body` with `count` zeroed polynomials.
    private func withPolys(_ count: Int, _ body: ([KyberPoly]) -> Void) {
        var storage = [Int16](repeating: 0, count: count * 256)
        storage.withUnsafeMutableBufferPointer { buffer in
            body((0..<count).map { KyberPoly(buffer.baseAddress! + 256 * $0) })
        }
    }

    @Test func divideByQ_isExact_forEveryCompressionNumerator() {
        let largest = UInt32((Self.q - 1) << 11 + Self.q / 2)
        var n: UInt32 = 0
        while n <= largest {
            if kyberDivideByQ(n) != n / 3329 {
                Issue.record("kyberDivideByQ(\(n)) = \(kyberDivideByQ(n)), expected \(n / 3329)")
                return
            }
            n += 1
        }
    }

    @Test(arguments: [1, 4, 10])
    func compress_matchesDefinition_forEveryResidue(bits: Int) {
        for x in 0..<Self.q {
            let expected = ((x << bits) + Self.q / 2) / Self.q % (1 << bits)
            // Centred inputs: x and x - q are the same residue.
            let centred = x > Self.q / 2 ? x - Self.q : x
            #expect(Int(kyberCompress(Int16(centred), bits: UInt32(bits))) == expected, "x = \(x)")
            if Int(kyberCompress(Int16(centred), bits: UInt32(bits))) != expected { return }
        }
        for y in 0..<(1 << bits) {
            let expected = (Self.q * y + (1 << (bits - 1))) >> bits
            #expect(Int(kyberDecompress(UInt32(y), bits: UInt32(bits))) == expected)
        }
    }

    @Test func barrettReduce_givesCentredRepresentative_forEveryInt16() {
        for a in Int(Int16.min)...Int(Int16.max) {
            let r = Int(barrettReduce(Int16(a)))
            guard Self.mod(r) == Self.mod(a), abs(r) <= (Self.q - 1) / 2 else {
                Issue.record("barrettReduce(\(a)) = \(r)")
                return
            }
        }
    }

    @Test func montgomeryReduce_dividesBy2To16_moduloQ() {
        var generator = SystemRandomNumberGenerator()
        let bound = Self.q << 15
        let rInverse = 169  // 2^-16 mod q
        for _ in 0..<100_000 {
            let a = Int.random(in: -bound + 1..<bound, using: &generator)
            let r = Int(montgomeryReduce(Int32(a)))
            guard abs(r) < Self.q, Self.mod(r) == Self.mod(a * rInverse) else {
                Issue.record("montgomeryReduce(\(a)) = \(r)")
                return
            }
        }
        #expect(Self.mod(65536 * rInverse) == 1)
    }

    @Test func montgomeryMultiply_equalsMontgomeryReduceOfProduct() {
        for _ in 0..<200_000 {
            let a = Int16.random(in: Int16.min...Int16.max)
            let b = Int16.random(in: -Int16(Self.q / 2)...Int16(Self.q / 2))
            guard montgomeryMultiply(a, b) == montgomeryReduce(Int32(a) * Int32(b)) else {
                Issue.record("montgomeryMultiply(\(a), \(b)) = \(montgomeryMultiply(a, b))")
                return
            }
        }
    }

    @Test func nttMultiplication_equalsSchoolbookNegacyclicProduct() {
        for _ in 0..<20 {
            let a = (0..<256).map { _ in Int.random(in: 0..<Self.q) }
            let b = (0..<256).map { _ in Int.random(in: -3...3) }  // like a noise polynomial
            var expected = [Int](repeating: 0, count: 256)
            for i in 0..<256 {
                for j in 0..<256 {
                    let product = a[i] * b[j]
                    if i + j < 256 { expected[i + j] += product } else { expected[i + j - 256] -= product }
                }
            }
            withPolys(5) { polys in
                // Vectors (a, 0) and (b, 0): the accumulated product is then just a·b.
                for i in 0..<256 {
                    polys[0].coefficients[i] = Int16(a[i])
                    polys[2].coefficients[i] = Int16(b[i])
                }
                let vectorA = KyberPolyVec(polys[0].coefficients)
                let vectorB = KyberPolyVec(polys[2].coefficients)
                vectorA.ntt()
                vectorB.ntt()
                polys[4].basemulAccumulate(vectorA, vectorB)
                polys[4].inverseNTTToMontgomery()
                polys[4].reduce()
                for i in 0..<256 where Self.mod(Int(polys[4].coefficients[i])) != Self.mod(expected[i]) {
                    Issue.record("coefficient \(i): \(polys[4].coefficients[i]) != \(Self.mod(expected[i]))")
                    return
                }
            }
        }
    }

    @Test func encode12_decode12_roundTrip() {
        withPolys(2) { polys in
            for i in 0..<256 { polys[0].coefficients[i] = Int16(Int.random(in: -1664...1664)) }
            var bytes = [UInt8](repeating: 0, count: 384)
            bytes.withUnsafeMutableBufferPointer { polys[0].encode12(into: $0.baseAddress!) }
            bytes.withUnsafeBufferPointer { polys[1].decode12(from: $0.baseAddress!) }
            for i in 0..<256 {
                #expect(Int(polys[1].coefficients[i]) == Self.mod(Int(polys[0].coefficients[i])))
            }
        }
    }

    @Test func message_roundTrips_throughPolynomial_withNoise() {
        withPolys(1) { polys in
            let message = (0..<32).map { _ in UInt8.random(in: 0...255) }
            message.withUnsafeBufferPointer { polys[0].setMessage($0.baseAddress!) }
            // Decryption sees the message plus noise smaller than q/4; it must still decode.
            for i in 0..<256 {
                polys[0].coefficients[i] = barrettReduce(polys[0].coefficients[i] &+ Int16.random(in: -830...830))
            }
            var decoded = [UInt8](repeating: 0, count: 32)
            decoded.withUnsafeMutableBufferPointer { polys[0].writeMessage(into: $0.baseAddress!) }
            #expect(decoded == message)
        }
    }

    @Test func constantTimeDiffers_flagsEveryPosition() {
        let a = (0..<768).map { _ in UInt8.random(in: 0...255) }
        a.withUnsafeBufferPointer { pa in
            #expect(kyberConstantTimeDiffers(pa.baseAddress!, pa.baseAddress!, count: 768) == 0)
        }
        for position in stride(from: 0, to: 768, by: 37) {
            for bit in 0..<8 {
                var b = a
                b[position] ^= 1 << bit
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        #expect(kyberConstantTimeDiffers(pa.baseAddress!, pb.baseAddress!, count: 768) == 1)
                    }
                }
            }
        }
    }

    @Test func zetas_arePowersOf17_inBitReversedOrder() {
        // ζ = 17 is a primitive 256th root of unity modulo q: 17^128 = -1.
        var power = 1
        for _ in 0..<128 { power = power * 17 % Self.q }
        #expect(power == Self.q - 1)
        // Entry 1 is 17^64 in Montgomery form; entry 64 is 17^1.
        let montgomery = { (x: Int) in Self.mod(x * 65536) }
        var p64 = 1
        for _ in 0..<64 { p64 = p64 * 17 % Self.q }
        #expect(Self.mod(Int(kyberZetas[1])) == montgomery(p64))
        #expect(Self.mod(Int(kyberZetas[64])) == montgomery(17))
        #expect(kyberZetas.allSatisfy { abs(Int($0)) <= Self.q / 2 })
    }
}
