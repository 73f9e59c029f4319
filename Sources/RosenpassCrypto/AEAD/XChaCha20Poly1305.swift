// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) in Rosenpass' buffer layout.

/// XChaCha20-Poly1305 with a 32-byte key, 24-byte nonce and 16-byte tag.
///
/// Rosenpass keeps the nonce inside the sealed buffer (`protocol.md` §1.4):
/// `sealed = nonce(24) || ciphertext || tag(16)`, i.e. `plaintext.count + 40` bytes.
/// The construction is the standard one: `subkey = HChaCha20(key, nonce[0..<16])`, then
/// ChaCha20-Poly1305 with `subkey` and the nonce `0^4 || nonce[16..<24]`.
public enum XChaCha20Poly1305 {
    /// Key length in bytes.
    public static let keyCount = 32
    /// Nonce length in bytes.
    public static let nonceCount = 24
    /// Tag length in bytes.
    public static let tagCount = 16
    /// Bytes a sealed buffer adds to the plaintext: the nonce and the tag.
    public static let overhead = nonceCount + tagCount

    /// Encrypts `plaintext` under `key` and the given 24-byte `nonce`, returning `nonce || ciphertext || tag`.
    public static func seal(
        key: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        plaintext: UnsafeRawBufferPointer
    ) -> [UInt8] {
        precondition(key.count == keyCount, "XChaCha20-Poly1305 key must be 32 bytes")
        precondition(nonce.count == nonceCount, "XChaCha20-Poly1305 nonce must be 24 bytes")
        return withSubkeyAndNonce(key: key, nonce: nonce) { subkey, innerNonce in
            var output = [UInt8](nonce)
            output.reserveCapacity(plaintext.count + overhead)
            output += ChaCha20Poly1305.seal(key: subkey, nonce: innerNonce, associatedData: associatedData, plaintext: plaintext)
            return output
        }
    }

    /// Decrypts a buffer `nonce || ciphertext || tag` and returns the plaintext.
    ///
    /// - Throws: ``CryptoError/authenticationFailure`` if the tag does not verify, or
    ///   ``CryptoError/invalidLength(_:expected:actual:)`` if `sealed` is shorter than 40 bytes.
    public static func open(
        key: UnsafeRawBufferPointer,
        sealed: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    ) throws(CryptoError) -> [UInt8] {
        precondition(key.count == keyCount, "XChaCha20-Poly1305 key must be 32 bytes")
        guard sealed.count >= overhead else {
            throw .invalidLength("XChaCha20-Poly1305 sealed buffer", expected: overhead, actual: sealed.count)
        }
        let nonce = UnsafeRawBufferPointer(rebasing: sealed[0..<nonceCount])
        let body = UnsafeRawBufferPointer(rebasing: sealed[nonceCount...])
        let result: Result<[UInt8], CryptoError> = withSubkeyAndNonce(key: key, nonce: nonce) { subkey, innerNonce in
            Result { () throws(CryptoError) in
                try ChaCha20Poly1305.open(
                    key: subkey, nonce: innerNonce, associatedData: associatedData, ciphertextAndTag: body)
            }
        }
        return try result.get()
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

    /// Convenience form of ``open(key:sealed:associatedData:)`` for byte arrays.
    public static func open(key: [UInt8], sealed: [UInt8], associatedData: [UInt8] = []) throws(CryptoError) -> [UInt8] {
        let result: Result<[UInt8], CryptoError> = key.withUnsafeBytes { k in
            sealed.withUnsafeBytes { s in
                associatedData.withUnsafeBytes { ad in
                    Result { () throws(CryptoError) in try open(key: k, sealed: s, associatedData: ad) }
                }
            }
        }
        return try result.get()
    }

    /// Derives the ChaCha20-Poly1305 subkey and 12-byte nonce, calls `body`, then wipes the subkey.
    private static func withSubkeyAndNonce<R>(
        key: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R
    ) -> R {
        var subkey = HChaCha20.deriveKey(key: key, nonce: UnsafeRawBufferPointer(rebasing: nonce[0..<16]))
        defer { secureZero(&subkey) }
        var innerNonce = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { innerNonce[4 + i] = nonce[16 + i] }
        return subkey.withUnsafeBytes { k in innerNonce.withUnsafeBytes { n in body(k, n) } }
    }
}

/// HChaCha20 (draft-irtf-cfrg-xchacha-03, section 2.2): a 32-byte subkey from a key and a 16-byte nonce.
public enum HChaCha20 {
    /// Returns HChaCha20(`key`, `nonce`): 32 bytes. `key` is 32 bytes and `nonce` 16 bytes.
    public static func deriveKey(key: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(key.count == 32 && nonce.count == 16, "HChaCha20 takes a 32-byte key and a 16-byte nonce")
        @inline(__always) func word(_ buffer: UnsafeRawBufferPointer, _ index: Int) -> UInt32 {
            UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self))
        }
        var x0: UInt32 = 0x6170_7865, x1: UInt32 = 0x3320_646E, x2: UInt32 = 0x7962_2D32, x3: UInt32 = 0x6B20_6574
        var x4 = word(key, 0), x5 = word(key, 1), x6 = word(key, 2), x7 = word(key, 3)
        var x8 = word(key, 4), x9 = word(key, 5), x10 = word(key, 6), x11 = word(key, 7)
        var x12 = word(nonce, 0), x13 = word(nonce, 1), x14 = word(nonce, 2), x15 = word(nonce, 3)

        @inline(__always) func quarterRound(_ a: inout UInt32, _ b: inout UInt32, _ c: inout UInt32, _ d: inout UInt32) {
            a = a &+ b; d ^= a; d = (d &<< 16) | (d &>> 16)
            c = c &+ d; b ^= c; b = (b &<< 12) | (b &>> 20)
            a = a &+ b; d ^= a; d = (d &<< 8) | (d &>> 24)
            c = c &+ d; b ^= c; b = (b &<< 7) | (b &>> 25)
        }
        for _ in 0..<10 {
            quarterRound(&x0, &x4, &x8, &x12)
            quarterRound(&x1, &x5, &x9, &x13)
            quarterRound(&x2, &x6, &x10, &x14)
            quarterRound(&x3, &x7, &x11, &x15)
            quarterRound(&x0, &x5, &x10, &x15)
            quarterRound(&x1, &x6, &x11, &x12)
            quarterRound(&x2, &x7, &x8, &x13)
            quarterRound(&x3, &x4, &x9, &x14)
        }
        var output = [UInt8](repeating: 0, count: 32)
        output.withUnsafeMutableBytes { out in
            for (index, value) in [x0, x1, x2, x3, x12, x13, x14, x15].enumerated() {
                out.storeBytes(of: value.littleEndian, toByteOffset: 4 * index, as: UInt32.self)
            }
        }
        return output
    }
}
