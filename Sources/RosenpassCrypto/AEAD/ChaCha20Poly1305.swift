// ChaCha20-Poly1305 (RFC 8439) in Rosenpass' buffer layout, on top of swift-crypto.

import Crypto
import Foundation

/// ChaCha20-Poly1305 (RFC 8439, section 2.8) with a 32-byte key, 12-byte nonce and 16-byte tag.
///
/// Rosenpass' layout (`docs/protocol.md` §1.3): the sealed buffer is `ciphertext || tag`; the nonce is not
/// stored. The cipher itself is swift-crypto's (BoringSSL), whose tag check runs in constant time.
/// Keys are passed to it as `SymmetricKey`, which wipes its copy; plaintexts it returns are copied
/// into the caller's buffer and then wiped.
public enum ChaCha20Poly1305 {
    /// Key length in bytes.
    public static let keyCount = 32
    /// Nonce length in bytes.
    public static let nonceCount = 12
    /// Tag length in bytes.
    public static let tagCount = 16

    /// Encrypts `plaintext` into `output` as `ciphertext || tag`.
    ///
    /// - Parameters:
    ///   - key: 32 bytes.
    ///   - nonce: 12 bytes.
    ///   - associatedData: authenticated, not encrypted.
    ///   - plaintext: the data to encrypt.
    ///   - output: exactly `plaintext.count + 16` bytes; may not overlap `plaintext`.
    /// Wrong key, nonce or output sizes are programming errors and trap.
    public static func seal(
        key: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        plaintext: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) {
        precondition(key.count == keyCount, "ChaCha20-Poly1305 key must be 32 bytes")
        precondition(nonce.count == nonceCount, "ChaCha20-Poly1305 nonce must be 12 bytes")
        precondition(output.count == plaintext.count + tagCount, "ChaCha20-Poly1305 output must be plaintext + 16 bytes")
        let box: ChaChaPoly.SealedBox
        do {
            box = try ChaChaPoly.seal(
                plaintext,
                using: SymmetricKey(data: key),
                nonce: ChaChaPoly.Nonce(data: nonce),
                authenticating: associatedData
            )
        } catch {
            // Only reachable with a malformed key or nonce, which the preconditions rule out.
            fatalError("ChaCha20-Poly1305 seal failed: \(error)")
        }
        box.ciphertext.withUnsafeBytes { ciphertext in
            precondition(ciphertext.count == plaintext.count)
            if let source = ciphertext.baseAddress { output.baseAddress!.copyMemory(from: source, byteCount: ciphertext.count) }
        }
        box.tag.withUnsafeBytes { tag in
            precondition(tag.count == tagCount)
            (output.baseAddress! + plaintext.count).copyMemory(from: tag.baseAddress!, byteCount: tagCount)
        }
    }

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
        [UInt8](unsafeUninitializedCapacity: plaintext.count + tagCount) { buffer, initialized in
            seal(key: key, nonce: nonce, associatedData: associatedData, plaintext: plaintext,
                 into: UnsafeMutableRawBufferPointer(buffer))
            initialized = plaintext.count + tagCount
        }
    }

    /// Verifies and decrypts `ciphertext || tag` into `output`.
    ///
    /// Nothing is written to `output` unless the tag verifies.
    ///
    /// - Parameters:
    ///   - output: exactly `ciphertextAndTag.count - 16` bytes.
    /// - Throws: ``CryptoError/authenticationFailure`` when the tag does not verify, and
    ///   ``CryptoError/invalidLength(_:minimum:actual:)`` when the input is shorter than a tag.
    public static func open(
        key: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        ciphertextAndTag: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) {
        precondition(key.count == keyCount, "ChaCha20-Poly1305 key must be 32 bytes")
        precondition(nonce.count == nonceCount, "ChaCha20-Poly1305 nonce must be 12 bytes")
        guard ciphertextAndTag.count >= tagCount else {
            throw .invalidLength("ChaCha20-Poly1305 ciphertext", minimum: tagCount, actual: ciphertextAndTag.count)
        }
        let split = ciphertextAndTag.count - tagCount
        precondition(output.count == split, "ChaCha20-Poly1305 output must be ciphertext - 16 bytes")
        var plaintext: Data
        do {
            let box = try ChaChaPoly.SealedBox(
                nonce: ChaChaPoly.Nonce(data: nonce),
                ciphertext: UnsafeRawBufferPointer(rebasing: ciphertextAndTag[0..<split]),
                tag: UnsafeRawBufferPointer(rebasing: ciphertextAndTag[split...])
            )
            plaintext = try ChaChaPoly.open(box, using: SymmetricKey(data: key), authenticating: associatedData)
        } catch {
            throw .authenticationFailure
        }
        plaintext.withUnsafeMutableBytes { bytes in
            if split > 0 { output.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: split) }
            secureZero(bytes)
        }
    }

    /// Verifies and decrypts `ciphertext || tag` and returns the plaintext.
    ///
    /// - Throws: ``CryptoError/authenticationFailure`` when the tag does not verify, and
    ///   ``CryptoError/invalidLength(_:minimum:actual:)`` when the input is shorter than a tag.
    public static func open(
        key: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        ciphertextAndTag: UnsafeRawBufferPointer
    ) throws(CryptoError) -> [UInt8] {
        guard ciphertextAndTag.count >= tagCount else {
            throw .invalidLength("ChaCha20-Poly1305 ciphertext", minimum: tagCount, actual: ciphertextAndTag.count)
        }
        var plaintext = [UInt8](repeating: 0, count: ciphertextAndTag.count - tagCount)
        let result: Result<Void, CryptoError> = plaintext.withUnsafeMutableBytes { output in
            Result { () throws(CryptoError) in
                try open(key: key, nonce: nonce, associatedData: associatedData, ciphertextAndTag: ciphertextAndTag,
                         into: output)
            }
        }
        try result.get()
        return plaintext
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
