// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) in Rosenpass' buffer layout.

/// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03, section 2.3) with a 32-byte key, 24-byte nonce and
/// 16-byte tag.
///
/// Rosenpass keeps the nonce inside the sealed buffer (`docs/protocol.md` §1.4):
/// `sealed = nonce(24) || ciphertext || tag(16)`, i.e. `plaintext.count + 40` bytes.
/// The construction is the standard one: `subkey = HChaCha20(key, nonce[0..<16])`, then
/// ChaCha20-Poly1305 with `subkey` and the nonce `0^4 || nonce[16..<24]`. The subkey is wiped after use.
public enum XChaCha20Poly1305 {
    /// Key length in bytes.
    public static let keyCount = 32
    /// Nonce length in bytes.
    public static let nonceCount = 24
    /// Tag length in bytes.
    public static let tagCount = 16
    /// Bytes a sealed buffer adds to the plaintext: the nonce and the tag.
    public static let overhead = nonceCount + tagCount

    /// Encrypts `plaintext` under `key` and the 24-byte `nonce` into `output` as `nonce || ciphertext || tag`.
    ///
    /// - Parameters:
    ///   - key: 32 bytes.
    ///   - nonce: 24 bytes; must never repeat under one key (draw it from ``SystemRandom``).
    ///   - associatedData: authenticated, not encrypted.
    ///   - plaintext: the data to encrypt.
    ///   - output: exactly `plaintext.count + 40` bytes; may not overlap the inputs.
    /// Wrong key, nonce or output sizes are programming errors and trap.
    public static func seal(
        key: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        plaintext: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) {
        precondition(key.count == keyCount, "XChaCha20-Poly1305 key must be 32 bytes")
        precondition(nonce.count == nonceCount, "XChaCha20-Poly1305 nonce must be 24 bytes")
        precondition(output.count == plaintext.count + overhead, "XChaCha20-Poly1305 output must be plaintext + 40 bytes")
        output.baseAddress!.copyMemory(from: nonce.baseAddress!, byteCount: nonceCount)
        withSubkeyAndNonce(key: key, nonce: nonce) { subkey, innerNonce in
            ChaCha20Poly1305.seal(
                key: subkey, nonce: innerNonce, associatedData: associatedData, plaintext: plaintext,
                into: UnsafeMutableRawBufferPointer(rebasing: output[nonceCount...]))
        }
    }

    /// Encrypts `plaintext` under `key` and the given 24-byte `nonce`, returning `nonce || ciphertext || tag`.
    public static func seal(
        key: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        plaintext: UnsafeRawBufferPointer
    ) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: plaintext.count + overhead) { buffer, initialized in
            seal(key: key, nonce: nonce, associatedData: associatedData, plaintext: plaintext,
                 into: UnsafeMutableRawBufferPointer(buffer))
            initialized = plaintext.count + overhead
        }
    }

    /// Verifies and decrypts a buffer `nonce || ciphertext || tag` into `output`.
    ///
    /// Nothing is written to `output` unless the tag verifies.
    ///
    /// - Parameters:
    ///   - output: exactly `sealed.count - 40` bytes.
    /// - Throws: ``CryptoError/authenticationFailure`` if the tag does not verify, or
    ///   ``CryptoError/invalidLength(_:minimum:actual:)`` if `sealed` is shorter than 40 bytes.
    public static func open(
        key: UnsafeRawBufferPointer,
        sealed: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        into output: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) {
        precondition(key.count == keyCount, "XChaCha20-Poly1305 key must be 32 bytes")
        guard sealed.count >= overhead else {
            throw .invalidLength("XChaCha20-Poly1305 sealed buffer", minimum: overhead, actual: sealed.count)
        }
        precondition(output.count == sealed.count - overhead, "XChaCha20-Poly1305 output must be sealed - 40 bytes")
        let nonce = UnsafeRawBufferPointer(rebasing: sealed[0..<nonceCount])
        let body = UnsafeRawBufferPointer(rebasing: sealed[nonceCount...])
        let result: Result<Void, CryptoError> = withSubkeyAndNonce(key: key, nonce: nonce) { subkey, innerNonce in
            Result { () throws(CryptoError) in
                try ChaCha20Poly1305.open(
                    key: subkey, nonce: innerNonce, associatedData: associatedData, ciphertextAndTag: body,
                    into: output)
            }
        }
        try result.get()
    }

    /// Verifies and decrypts a buffer `nonce || ciphertext || tag` and returns the plaintext.
    ///
    /// - Throws: ``CryptoError/authenticationFailure`` if the tag does not verify, or
    ///   ``CryptoError/invalidLength(_:minimum:actual:)`` if `sealed` is shorter than 40 bytes.
    public static func open(
        key: UnsafeRawBufferPointer,
        sealed: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    ) throws(CryptoError) -> [UInt8] {
        guard sealed.count >= overhead else {
            throw .invalidLength("XChaCha20-Poly1305 sealed buffer", minimum: overhead, actual: sealed.count)
        }
        var plaintext = [UInt8](repeating: 0, count: sealed.count - overhead)
        let result: Result<Void, CryptoError> = plaintext.withUnsafeMutableBytes { output in
            Result { () throws(CryptoError) in
                try open(key: key, sealed: sealed, associatedData: associatedData, into: output)
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

    /// Derives the ChaCha20-Poly1305 subkey and 12-byte nonce on the stack, calls `body`, then wipes
    /// the subkey.
    private static func withSubkeyAndNonce<R>(
        key: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R
    ) -> R {
        var subkey: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var innerNonce: (UInt32, UInt32, UInt32) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &subkey) { subkeyBytes in
            defer { secureZero(subkeyBytes) }
            HChaCha20.deriveKey(
                key: key, nonce: UnsafeRawBufferPointer(rebasing: nonce[0..<16]), into: subkeyBytes)
            return withUnsafeMutableBytes(of: &innerNonce) { nonceBytes in
                (nonceBytes.baseAddress! + 4).copyMemory(from: nonce.baseAddress! + 16, byteCount: 8)
                return body(UnsafeRawBufferPointer(subkeyBytes), UnsafeRawBufferPointer(nonceBytes))
            }
        }
    }
}

/// HChaCha20 (draft-irtf-cfrg-xchacha-03, section 2.2): a 32-byte subkey from a key and a 16-byte nonce.
public enum HChaCha20 {
    /// Writes HChaCha20(`key`, `nonce`) into `output`.
    ///
    /// - Parameters:
    ///   - key: 32 bytes.
    ///   - nonce: 16 bytes.
    ///   - output: 32 bytes: the first and last rows of the ChaCha20 state after 20 rounds, little-endian.
    public static func deriveKey(
        key: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) {
        precondition(key.count == 32 && nonce.count == 16, "HChaCha20 takes a 32-byte key and a 16-byte nonce")
        precondition(output.count == 32, "HChaCha20 output must be 32 bytes")
        @inline(__always) func word(_ buffer: UnsafeRawBufferPointer, _ index: Int) -> UInt32 {
            UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self))
        }
        // "expand 32-byte k", the key, and the nonce in place of the counter and nonce words (section 2.2).
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
        output.storeBytes(of: x0.littleEndian, toByteOffset: 0, as: UInt32.self)
        output.storeBytes(of: x1.littleEndian, toByteOffset: 4, as: UInt32.self)
        output.storeBytes(of: x2.littleEndian, toByteOffset: 8, as: UInt32.self)
        output.storeBytes(of: x3.littleEndian, toByteOffset: 12, as: UInt32.self)
        output.storeBytes(of: x12.littleEndian, toByteOffset: 16, as: UInt32.self)
        output.storeBytes(of: x13.littleEndian, toByteOffset: 20, as: UInt32.self)
        output.storeBytes(of: x14.littleEndian, toByteOffset: 24, as: UInt32.self)
        output.storeBytes(of: x15.littleEndian, toByteOffset: 28, as: UInt32.self)
    }

    /// Returns HChaCha20(`key`, `nonce`): 32 bytes. `key` is 32 bytes and `nonce` 16 bytes.
    public static func deriveKey(key: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { buffer, initialized in
            deriveKey(key: key, nonce: nonce, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = 32
        }
    }
}
