// ChaCha20-Poly1305 (RFC 8439) in Rosenpass' buffer layout, on top of swift-crypto.

import Crypto
import Foundation

/// ChaCha20-Poly1305 (RFC 8439) with a 32-byte key, 12-byte nonce and 16-byte tag.
///
/// Rosenpass' layout (`protocol.md` §1.3): the output is `ciphertext || tag`; the nonce is not stored.
public enum ChaCha20Poly1305 {
    /// Key length in bytes.
    public static let keyCount = 32
    /// Nonce length in bytes.
    public static let nonceCount = 12
    /// Tag length in bytes.
    public static let tagCount = 16

    /// Encrypts `plaintext` and returns `ciphertext || tag` (`plaintext.count + 16` bytes).
    ///
    /// - Parameters:
    ///   - key: 32 bytes.
    ///   - nonce: 12 bytes.
    ///   - associatedData: authenticated, not encrypted.
    ///   - plaintext: the data to encrypt.
    public static func seal(
        key: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        plaintext: UnsafeRawBufferPointer
    ) -> [UInt8] {
        precondition(key.count == keyCount, "ChaCha20-Poly1305 key must be 32 bytes")
        precondition(nonce.count == nonceCount, "ChaCha20-Poly1305 nonce must be 12 bytes")
        do {
            let box = try ChaChaPoly.seal(
                plaintext,
                using: SymmetricKey(data: key),
                nonce: ChaChaPoly.Nonce(data: nonce),
                authenticating: associatedData
            )
            var output = [UInt8]()
            output.reserveCapacity(plaintext.count + tagCount)
            output.append(contentsOf: box.ciphertext)
            output.append(contentsOf: box.tag)
            return output
        } catch {
            // Only reachable with a malformed key or nonce, which the preconditions rule out.
            fatalError("ChaCha20-Poly1305 seal failed: \(error)")
        }
    }

    /// Decrypts `ciphertext || tag` and returns the plaintext.
    ///
    /// - Throws: ``CryptoError/authenticationFailure`` when the tag does not verify, and
    ///   ``CryptoError/invalidLength(_:expected:actual:)`` when the input is shorter than a tag.
    public static func open(
        key: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        ciphertextAndTag: UnsafeRawBufferPointer
    ) throws(CryptoError) -> [UInt8] {
        precondition(key.count == keyCount, "ChaCha20-Poly1305 key must be 32 bytes")
        precondition(nonce.count == nonceCount, "ChaCha20-Poly1305 nonce must be 12 bytes")
        guard ciphertextAndTag.count >= tagCount else {
            throw .invalidLength("ChaCha20-Poly1305 ciphertext", expected: tagCount, actual: ciphertextAndTag.count)
        }
        let split = ciphertextAndTag.count - tagCount
        do {
            let box = try ChaChaPoly.SealedBox(
                nonce: ChaChaPoly.Nonce(data: nonce),
                ciphertext: UnsafeRawBufferPointer(rebasing: ciphertextAndTag[0..<split]),
                tag: UnsafeRawBufferPointer(rebasing: ciphertextAndTag[split...])
            )
            let plaintext = try ChaChaPoly.open(box, using: SymmetricKey(data: key), authenticating: associatedData)
            return [UInt8](plaintext)
        } catch {
            throw .authenticationFailure
        }
    }

    /// Convenience form of ``seal(key:nonce:associatedData:plaintext:)`` for byte arrays.
    public static func seal(key: [UInt8], nonce: [UInt8], associatedData: [UInt8] = [], plaintext: [UInt8]) -> [UInt8] {
        key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                associatedData.withUnsafeBytes { ad in
                    plaintext.withUnsafeBytes { seal(key: k, nonce: n, associatedData: ad, plaintext: $0) }
                }
            }
        }
    }

    /// Convenience form of ``open(key:nonce:associatedData:ciphertextAndTag:)`` for byte arrays.
    public static func open(
        key: [UInt8],
        nonce: [UInt8],
        associatedData: [UInt8] = [],
        ciphertextAndTag: [UInt8]
    ) throws(CryptoError) -> [UInt8] {
        let result: Result<[UInt8], CryptoError> = key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                associatedData.withUnsafeBytes { ad in
                    ciphertextAndTag.withUnsafeBytes { c in
                        Result { () throws(CryptoError) in try open(key: k, nonce: n, associatedData: ad, ciphertextAndTag: c) }
                    }
                }
            }
        }
        return try result.get()
    }
}
