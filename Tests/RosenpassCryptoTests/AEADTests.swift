// Known answers and tamper tests for ChaCha20-Poly1305 (RFC 8439, docs/protocol.md §1.3), HChaCha20 and
// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03, docs/protocol.md §1.4).
//
// Fixtures (written by scripts/fixtures/generate-symmetric-fixtures.py):
//   aead-chacha20poly1305.json    RFC 8439 §2.8.2 and A.5, then pyca/cryptography (OpenSSL) cases
//   aead-xchacha20poly1305.json   the draft's A.3.1, docs/protocol.md's XAEAD answer, then PyCryptodome cases
//   aead-hchacha20.json           the draft's §2.2.1

import RosenpassCrypto
import RosenpassTestSupport
import Testing

/// A case of `aead-*.json`.
struct AEADCase: Decodable, CustomStringConvertible {
    let name: String
    let key: String
    let nonce: String
    let associatedData: String
    let plaintext: String
    let ciphertext: String
    let tag: String
    var description: String { name }
}

/// A case of `aead-hchacha20.json`.
struct HChaCha20Case: Decodable {
    let name: String
    let key: String
    let nonce: String
    let subkey: String
}

/// Every single-bit change of `bytes`, as (byte index, bit, changed copy).
func singleBitFlips(of bytes: [UInt8]) -> [(Int, Int, [UInt8])] {
    var flips: [(Int, Int, [UInt8])] = []
    for index in bytes.indices {
        for bit in 0..<8 {
            var copy = bytes
            copy[index] ^= 1 << bit
            flips.append((index, bit, copy))
        }
    }
    return flips
}

/// Expects `body` to throw exactly `expected`.
func expectCryptoError(
    _ expected: CryptoError,
    _ comment: Comment,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws(CryptoError) -> [UInt8]
) {
    do {
        let output = try body()
        Issue.record("\(comment): accepted, returned \(output.count) bytes", sourceLocation: sourceLocation)
    } catch {
        #expect(error == expected, "\(comment)", sourceLocation: sourceLocation)
    }
}

@Suite("ChaCha20-Poly1305 (RFC 8439)")
struct ChaCha20Poly1305Tests {
    @Test("RFC 8439 §2.8.2 and A.5, and OpenSSL's answers for many lengths: seal and open")
    func knownAnswers() throws {
        let cases = try KnownAnswers<AEADCase>.load("aead-chacha20poly1305.json")
        #expect(cases.count >= 15)
        for known in cases {
            let key = Hex.decode(known.key), nonce = Hex.decode(known.nonce)
            let ad = Hex.decode(known.associatedData), plaintext = Hex.decode(known.plaintext)
            let sealed = ChaCha20Poly1305.seal(key: key, nonce: nonce, associatedData: ad, plaintext: plaintext)
            #expect(Hex.encode(sealed) == known.ciphertext + known.tag, "\(known): ciphertext || tag")
            let opened = try ChaCha20Poly1305.open(key: key, nonce: nonce, associatedData: ad, ciphertextAndTag: sealed)
            #expect(opened == plaintext, "\(known): open")
        }
    }

    @Test("the buffer forms write in place and leave the output untouched when the tag fails")
    func bufferForms() throws {
        let known = try #require(try KnownAnswers<AEADCase>.load("aead-chacha20poly1305.json").first)
        let key = Hex.decode(known.key), nonce = Hex.decode(known.nonce)
        let ad = Hex.decode(known.associatedData), plaintext = Hex.decode(known.plaintext)
        var sealed = [UInt8](repeating: 0xEE, count: plaintext.count + 16)
        key.withUnsafeBytes { k in nonce.withUnsafeBytes { n in ad.withUnsafeBytes { a in plaintext.withUnsafeBytes { p in
            sealed.withUnsafeMutableBytes { ChaCha20Poly1305.seal(key: k, nonce: n, associatedData: a, plaintext: p, into: $0) }
        } } } }
        #expect(Hex.encode(sealed) == known.ciphertext + known.tag)

        func open(_ input: [UInt8], into output: inout [UInt8]) -> CryptoError? {
            let result: Result<Void, CryptoError> = key.withUnsafeBytes { k in nonce.withUnsafeBytes { n in
                ad.withUnsafeBytes { a in input.withUnsafeBytes { c in output.withUnsafeMutableBytes { out in
                    Result { () throws(CryptoError) in
                        try ChaCha20Poly1305.open(key: k, nonce: n, associatedData: a, ciphertextAndTag: c, into: out)
                    }
                } } }
            } }
            if case .failure(let error) = result { return error }
            return nil
        }
        var output = [UInt8](repeating: 0xAB, count: plaintext.count)
        #expect(open(sealed, into: &output) == nil)
        #expect(output == plaintext)

        var tampered = sealed
        tampered[0] ^= 1
        var untouched = [UInt8](repeating: 0xAB, count: plaintext.count)
        #expect(open(tampered, into: &untouched) == .authenticationFailure)
        #expect(untouched == [UInt8](repeating: 0xAB, count: plaintext.count), "no plaintext released on failure")
    }

    @Test("keys and nonces of the wrong size are programming errors and stop the process")
    func wrongSizesTrap() async {
        await #expect(processExitsWith: .failure) {
            _ = ChaCha20Poly1305.seal(key: [UInt8](repeating: 0, count: 31), nonce: [UInt8](repeating: 0, count: 12), plaintext: [])
        }
        await #expect(processExitsWith: .failure) {
            _ = ChaCha20Poly1305.seal(key: [UInt8](repeating: 0, count: 32), nonce: [UInt8](repeating: 0, count: 24), plaintext: [])
        }
        await #expect(processExitsWith: .failure) {
            _ = XChaCha20Poly1305.seal(key: [UInt8](repeating: 0, count: 32), nonce: [UInt8](repeating: 0, count: 12), plaintext: [])
        }
        await #expect(processExitsWith: .failure) {
            _ = try? XChaCha20Poly1305.open(key: [UInt8](repeating: 0, count: 16), sealed: [UInt8](repeating: 0, count: 40))
        }
    }

    @Test("every flipped bit of ciphertext, tag, associated data and nonce is rejected; so are truncations")
    func tampering() throws {
        let cases = try KnownAnswers<AEADCase>.load("aead-chacha20poly1305.json")
        for known in cases.prefix(4) {
            let key = Hex.decode(known.key), nonce = Hex.decode(known.nonce)
            let ad = Hex.decode(known.associatedData)
            let sealed = Hex.decode(known.ciphertext + known.tag)
            for (index, bit, changed) in singleBitFlips(of: sealed) {
                let part = index < sealed.count - 16 ? "ciphertext" : "tag"
                expectCryptoError(.authenticationFailure, "\(known): \(part) byte \(index) bit \(bit)") {
                    () throws(CryptoError) in try ChaCha20Poly1305.open(key: key, nonce: nonce, associatedData: ad, ciphertextAndTag: changed)
                }
            }
            for (index, bit, changed) in singleBitFlips(of: ad) {
                expectCryptoError(.authenticationFailure, "\(known): associated data byte \(index) bit \(bit)") {
                    () throws(CryptoError) in try ChaCha20Poly1305.open(key: key, nonce: nonce, associatedData: changed, ciphertextAndTag: sealed)
                }
            }
            for (index, bit, changed) in singleBitFlips(of: nonce) {
                expectCryptoError(.authenticationFailure, "\(known): nonce byte \(index) bit \(bit)") {
                    () throws(CryptoError) in try ChaCha20Poly1305.open(key: key, nonce: changed, associatedData: ad, ciphertextAndTag: sealed)
                }
            }
            var otherKey = key
            otherKey[31] ^= 0x80
            expectCryptoError(.authenticationFailure, "\(known): wrong key") {
                () throws(CryptoError) in try ChaCha20Poly1305.open(key: otherKey, nonce: nonce, associatedData: ad, ciphertextAndTag: sealed)
            }
            if !ad.isEmpty {
                expectCryptoError(.authenticationFailure, "\(known): AD dropped") {
                    () throws(CryptoError) in try ChaCha20Poly1305.open(key: key, nonce: nonce, associatedData: [], ciphertextAndTag: sealed)
                }
            }
            for truncated in [Array(sealed.dropLast()), Array(sealed.dropFirst()), sealed + [0]] where truncated.count >= 16 {
                expectCryptoError(.authenticationFailure, "\(known): \(truncated.count) of \(sealed.count) bytes") {
                    () throws(CryptoError) in try ChaCha20Poly1305.open(key: key, nonce: nonce, associatedData: ad, ciphertextAndTag: truncated)
                }
            }
            for length in [0, 1, 15] {
                expectCryptoError(.invalidLength("ChaCha20-Poly1305 ciphertext", minimum: 16, actual: length),
                                  "\(known): \(length) bytes, shorter than a tag") {
                    () throws(CryptoError) in try ChaCha20Poly1305.open(key: key, nonce: nonce, associatedData: ad, ciphertextAndTag: Array(sealed.prefix(length)))
                }
            }
        }
    }
}

@Suite("CryptoError")
struct CryptoErrorTests {
    @Test("errors say what was wrong, with the sizes")
    func descriptions() {
        #expect(CryptoError.authenticationFailure.description
            == "authentication failed: the message was altered or the key is wrong")
        #expect(CryptoError.invalidLength("Kyber-512 ciphertext", expected: 768, actual: 767).description
            == "Kyber-512 ciphertext must be 768 bytes, got 767")
        #expect(CryptoError.invalidLength("XChaCha20-Poly1305 sealed buffer", minimum: 40, actual: 3).description
            == "XChaCha20-Poly1305 sealed buffer must be at least 40 bytes, got 3")
        #expect(CryptoError.invalidLength("a", expected: 1, actual: 2).isInvalidLength)
        #expect(CryptoError.invalidLength("a", minimum: 1, actual: 0).isInvalidLength)
        #expect(!CryptoError.authenticationFailure.isInvalidLength)
        #expect(CryptoError.invalidLength("a", expected: 1, actual: 2) != CryptoError.invalidLength("a", minimum: 1, actual: 2))
    }
}

@Suite("HChaCha20 and XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03)")
struct XChaCha20Poly1305Tests {
    @Test("HChaCha20: the draft's §2.2.1 vector")
    func hchacha20() throws {
        for known in try KnownAnswers<HChaCha20Case>.load("aead-hchacha20.json") {
            let key = Hex.decode(known.key), nonce = Hex.decode(known.nonce)
            let subkey = key.withUnsafeBytes { k in nonce.withUnsafeBytes { HChaCha20.deriveKey(key: k, nonce: $0) } }
            #expect(Hex.encode(subkey) == known.subkey, "\(known.name)")
        }
    }

    @Test("the draft's A.3.1, docs/protocol.md's XAEAD answer and PyCryptodome's cases: nonce || ciphertext || tag")
    func knownAnswers() throws {
        let cases = try KnownAnswers<AEADCase>.load("aead-xchacha20poly1305.json")
        #expect(cases.contains { $0.name.contains("docs/protocol.md") })
        for known in cases {
            let key = Hex.decode(known.key), nonce = Hex.decode(known.nonce)
            let ad = Hex.decode(known.associatedData), plaintext = Hex.decode(known.plaintext)
            let sealed = XChaCha20Poly1305.seal(key: key, nonce: nonce, associatedData: ad, plaintext: plaintext)
            #expect(sealed.count == plaintext.count + XChaCha20Poly1305.overhead)
            #expect(Hex.encode(sealed) == known.nonce + known.ciphertext + known.tag, "\(known)")
            let opened = try XChaCha20Poly1305.open(key: key, sealed: sealed, associatedData: ad)
            #expect(opened == plaintext, "\(known): open")

            var output = [UInt8](repeating: 0, count: plaintext.count)
            let result: Result<Void, CryptoError> = key.withUnsafeBytes { k in sealed.withUnsafeBytes { s in
                ad.withUnsafeBytes { a in output.withUnsafeMutableBytes { out in
                    Result { () throws(CryptoError) in try XChaCha20Poly1305.open(key: k, sealed: s, associatedData: a, into: out) }
                } }
            } }
            #expect(throws: Never.self) { try result.get() }
            #expect(output == plaintext, "\(known): open into a buffer")
        }
    }

    @Test("every flipped bit of nonce, ciphertext, tag and associated data is rejected; so are truncations")
    func tampering() throws {
        let cases = try KnownAnswers<AEADCase>.load("aead-xchacha20poly1305.json")
        for known in cases.prefix(3) {
            let key = Hex.decode(known.key), ad = Hex.decode(known.associatedData)
            let sealed = Hex.decode(known.nonce + known.ciphertext + known.tag)
            for (index, bit, changed) in singleBitFlips(of: sealed) {
                let part = index < 24 ? "nonce" : index < sealed.count - 16 ? "ciphertext" : "tag"
                expectCryptoError(.authenticationFailure, "\(known): \(part) byte \(index) bit \(bit)") {
                    () throws(CryptoError) in try XChaCha20Poly1305.open(key: key, sealed: changed, associatedData: ad)
                }
            }
            for (index, bit, changed) in singleBitFlips(of: ad) {
                expectCryptoError(.authenticationFailure, "\(known): associated data byte \(index) bit \(bit)") {
                    () throws(CryptoError) in try XChaCha20Poly1305.open(key: key, sealed: sealed, associatedData: changed)
                }
            }
            for truncated in [Array(sealed.dropLast()), Array(sealed.dropFirst()), sealed + [0]] where truncated.count >= 40 {
                expectCryptoError(.authenticationFailure, "\(known): \(truncated.count) of \(sealed.count) bytes") {
                    () throws(CryptoError) in try XChaCha20Poly1305.open(key: key, sealed: truncated, associatedData: ad)
                }
            }
            for length in [0, 24, 39] {
                expectCryptoError(.invalidLength("XChaCha20-Poly1305 sealed buffer", minimum: 40, actual: length),
                                  "\(known): \(length) bytes, shorter than nonce and tag") {
                    () throws(CryptoError) in try XChaCha20Poly1305.open(key: key, sealed: Array(sealed.prefix(length)), associatedData: ad)
                }
            }
        }
    }

    @Test("fresh random nonces give different sealed buffers that both open")
    func randomNonces() throws {
        let key = SecretBytes.random(count: 32).unprotectedArray()
        let plaintext = Array("biscuit".utf8)
        var random = SystemRandom()
        let first = XChaCha20Poly1305.seal(key: key, nonce: random.bytes(count: 24), plaintext: plaintext)
        let second = XChaCha20Poly1305.seal(key: key, nonce: random.bytes(count: 24), plaintext: plaintext)
        #expect(first != second)
        #expect(try XChaCha20Poly1305.open(key: key, sealed: first) == plaintext)
        #expect(try XChaCha20Poly1305.open(key: key, sealed: second) == plaintext)
    }
}
