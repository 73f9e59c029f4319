// Kyber-512 as a key-encapsulation mechanism: CRYSTALS-Kyber v3.02 (NIST round 3), the liboqs
// `kyber_512` algorithm that Rosenpass uses as its ephemeral KEM (docs/protocol.md §1.2).

/// CRYSTALS-Kyber-512, round 3 (specification v3.02, algorithms 7, 8 and 9): the ephemeral KEM of
/// Rosenpass (docs/protocol.md §1.2), byte-compatible with liboqs `kyber_512` and the round-3 reference code.
///
/// **This is not ML-KEM-512 (FIPS 203).** The lattice arithmetic and the byte formats are the same; the
/// Fujisaki–Okamoto transform differs, so keys and shared keys differ:
///
/// - key generation hashes the seed alone, (ρ, σ) = G(d), without appending k;
/// - encapsulation uses m = H(random 32 bytes), not the random bytes themselves;
/// - the shared key is K = SHAKE256(K̄ ‖ H(c), 32), not K̄;
/// - implicit rejection gives SHAKE256(z ‖ H(c), 32), not SHAKE256(z ‖ c, 32);
/// - public and secret keys are not checked on input.
///
/// Formats (liboqs): public key t̂ ‖ ρ (800 bytes); secret key ŝ ‖ pk ‖ H(pk) ‖ z (1632 bytes);
/// ciphertext compress(u, 10) ‖ compress(v, 4) (768 bytes); shared key 32 bytes.
///
/// Decapsulation runs in time independent of the secret key and of whether the ciphertext is valid:
/// the re-encryption check and the choice between the real and the rejection key are constant time.
/// Secret intermediate values are wiped before the functions return.
public enum Kyber512: KeyEncapsulationMechanism {
    public static let name = "kyber512"
    public static let publicKeyCount = KyberParameters.publicKeyBytes
    public static let secretKeyCount = KyberParameters.secretKeyBytes
    public static let ciphertextCount = KyberParameters.ciphertextBytes
    public static let sharedKeyCount = KyberParameters.sharedKeyBytes

    /// Bytes of randomness key generation consumes: d (32) for the IND-CPA key, then z (32) for rejection.
    public static let keyPairCoinsCount = 2 * KyberParameters.symBytes
    /// Bytes of randomness encapsulation consumes (hashed into the message m).
    public static let encapsulationCoinsCount = KyberParameters.symBytes

    // MARK: Key generation

    /// Generates a key pair from the system random number generator (algorithm 7).
    public static func generateKeyPair() -> (publicKey: [UInt8], secretKey: SecretBytes) {
        let coins = SecretBytes.random(count: keyPairCoinsCount)
        return coins.withUnsafeBytes { generateKeyPair(rawCoins: $0) }
    }

    /// Generates the key pair that `coins` determine, as the reference's `crypto_kem_keypair_derand`.
    ///
    /// - Parameter coins: 64 bytes: d, the seed of the IND-CPA key pair, then z, the rejection secret.
    /// - Throws: ``CryptoError/invalidLength(_:expected:actual:)`` unless `coins` has 64 bytes.
    public static func generateKeyPair(coins: SecretBytes) throws(CryptoError) -> (
        publicKey: [UInt8], secretKey: SecretBytes
    ) {
        guard coins.count == keyPairCoinsCount else {
            throw .invalidLength("Kyber-512 key generation coins", expected: keyPairCoinsCount, actual: coins.count)
        }
        return coins.withUnsafeBytes { generateKeyPair(rawCoins: $0) }
    }

    /// Generates the key pair that `coins` determine (64 bytes: d ‖ z); see the `SecretBytes` overload.
    public static func generateKeyPair(coins: [UInt8]) throws(CryptoError) -> (
        publicKey: [UInt8], secretKey: SecretBytes
    ) {
        try generateKeyPair(coins: SecretBytes(coins))
    }

    private static func generateKeyPair(rawCoins coins: UnsafeRawBufferPointer) -> (
        publicKey: [UInt8], secretKey: SecretBytes
    ) {
        var secretKey = SecretBytes(zeros: secretKeyCount)
        let publicKey = [UInt8](unsafeUninitializedCapacity: publicKeyCount) { publicBuffer, initialized in
            secretKey.withUnsafeMutableBytes { secretBuffer in
                let pk = publicBuffer.baseAddress!
                let sk = secretBuffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
                withKyberScratch { scratch in
                    KyberPKE.generateKeyPair(
                        seed: coins.baseAddress!, publicKey: pk, secretKey: sk, scratch: scratch)
                }
                // sk = ŝ ‖ pk ‖ H(pk) ‖ z
                (sk + KyberParameters.secretKeyPublicKeyOffset).update(from: pk, count: publicKeyCount)
                KyberHash.h(pk, count: publicKeyCount, into: sk + KyberParameters.secretKeyHashOffset)
                UnsafeMutableRawPointer(sk + KyberParameters.secretKeyRejectionOffset).copyMemory(
                    from: coins.baseAddress! + KyberParameters.symBytes, byteCount: KyberParameters.symBytes)
            }
            initialized = publicKeyCount
        }
        return (publicKey, secretKey)
    }

    // MARK: Encapsulation

    /// Encapsulates a fresh shared key to `publicKey` with randomness from the system (algorithm 8).
    ///
    /// - Throws: ``CryptoError/invalidLength(_:expected:actual:)`` unless `publicKey` has 800 bytes.
    public static func encapsulate(publicKey: [UInt8]) throws(CryptoError) -> (
        ciphertext: [UInt8], sharedKey: SecretBytes
    ) {
        try checkPublicKey(publicKey)
        let coins = SecretBytes.random(count: encapsulationCoinsCount)
        return coins.withUnsafeBytes { encapsulate(publicKey: publicKey, rawCoins: $0) }
    }

    /// Encapsulates to `publicKey` with the given randomness, as the reference's `crypto_kem_enc_derand`.
    ///
    /// The coins are hashed first (m = H(coins)), as round 3 does to avoid releasing raw system randomness.
    ///
    /// - Parameter coins: 32 bytes.
    /// - Throws: ``CryptoError/invalidLength(_:expected:actual:)`` when a size is wrong.
    public static func encapsulate(publicKey: [UInt8], coins: SecretBytes) throws(CryptoError) -> (
        ciphertext: [UInt8], sharedKey: SecretBytes
    ) {
        try checkPublicKey(publicKey)
        guard coins.count == encapsulationCoinsCount else {
            throw .invalidLength("Kyber-512 encapsulation coins", expected: encapsulationCoinsCount, actual: coins.count)
        }
        return coins.withUnsafeBytes { encapsulate(publicKey: publicKey, rawCoins: $0) }
    }

    /// Encapsulates to `publicKey` with the given 32 bytes of randomness; see the `SecretBytes` overload.
    public static func encapsulate(publicKey: [UInt8], coins: [UInt8]) throws(CryptoError) -> (
        ciphertext: [UInt8], sharedKey: SecretBytes
    ) {
        try encapsulate(publicKey: publicKey, coins: SecretBytes(coins))
    }

    private static func encapsulate(publicKey: [UInt8], rawCoins coins: UnsafeRawBufferPointer) -> (
        ciphertext: [UInt8], sharedKey: SecretBytes
    ) {
        var sharedKey = SecretBytes(zeros: sharedKeyCount)
        let ciphertext = [UInt8](unsafeUninitializedCapacity: ciphertextCount) { ciphertextBuffer, initialized in
            publicKey.withUnsafeBufferPointer { publicBuffer in
                sharedKey.withUnsafeMutableBytes { keyBuffer in
                    let pk = publicBuffer.baseAddress!
                    let ct = ciphertextBuffer.baseAddress!
                    withKyberScratch { scratch in
                        let message = scratch.message
                        let keyAndCoins = scratch.keyAndCoins
                        // m = H(coins); (K̄, r) = G(m ‖ H(pk))
                        KyberHash.h(coins.baseAddress!, count: KyberParameters.symBytes, into: message)
                        KyberHash.h(pk, count: publicKeyCount, into: message + KyberParameters.symBytes)
                        KyberHash.g(message, count: 2 * KyberParameters.symBytes, into: keyAndCoins)
                        KyberPKE.encrypt(
                            publicKey: pk, message: message, coins: keyAndCoins + KyberParameters.symBytes,
                            ciphertext: ct, scratch: scratch)
                        // K = KDF(K̄ ‖ H(c))
                        KyberHash.h(ct, count: ciphertextCount, into: keyAndCoins + KyberParameters.symBytes)
                        KyberHash.kdf(keyAndCoins, count: 2 * KyberParameters.symBytes, into: keyBuffer.baseAddress!)
                    }
                }
            }
            initialized = ciphertextCount
        }
        return (ciphertext, sharedKey)
    }

    // MARK: Decapsulation

    /// Decapsulates `ciphertext` with `secretKey` (algorithm 9).
    ///
    /// A ciphertext that does not re-encrypt to itself yields the rejection key SHAKE256(z ‖ H(c), 32),
    /// which looks random to anyone without the secret key; there is no error for it. The secret key's
    /// embedded public key and hash are used as they are (round 3 does not check them).
    ///
    /// - Throws: ``CryptoError/invalidLength(_:expected:actual:)`` when the secret key is not 1632 bytes
    ///   or the ciphertext not 768 bytes.
    public static func decapsulate(secretKey: SecretBytes, ciphertext: [UInt8]) throws(CryptoError) -> SecretBytes {
        guard secretKey.count == secretKeyCount else {
            throw .invalidLength("Kyber-512 secret key", expected: secretKeyCount, actual: secretKey.count)
        }
        guard ciphertext.count == ciphertextCount else {
            throw .invalidLength("Kyber-512 ciphertext", expected: ciphertextCount, actual: ciphertext.count)
        }
        var sharedKey = SecretBytes(zeros: sharedKeyCount)
        secretKey.withUnsafeBytes { secretBuffer in
            ciphertext.withUnsafeBufferPointer { ciphertextBuffer in
                sharedKey.withUnsafeMutableBytes { keyBuffer in
                    decapsulate(
                        secretKey: secretBuffer.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        ciphertext: ciphertextBuffer.baseAddress!,
                        sharedKey: keyBuffer.baseAddress!)
                }
            }
        }
        return sharedKey
    }

    private static func decapsulate(
        secretKey sk: UnsafePointer<UInt8>,
        ciphertext ct: UnsafePointer<UInt8>,
        sharedKey: UnsafeMutableRawPointer
    ) {
        withKyberScratch { scratch in
            let message = scratch.message
            let keyAndCoins = scratch.keyAndCoins
            let symBytes = KyberParameters.symBytes
            // m' = Dec(ŝ, c); (K̄', r') = G(m' ‖ H(pk)); c' = Enc(pk, m', r')
            KyberPKE.decrypt(secretKey: sk, ciphertext: ct, message: message, scratch: scratch)
            (message + symBytes).update(from: sk + KyberParameters.secretKeyHashOffset, count: symBytes)
            KyberHash.g(message, count: 2 * symBytes, into: keyAndCoins)
            KyberPKE.encrypt(
                publicKey: sk + KyberParameters.secretKeyPublicKeyOffset, message: message,
                coins: keyAndCoins + symBytes, ciphertext: scratch.ciphertext, scratch: scratch)
            let mismatch = kyberConstantTimeDiffers(ct, scratch.ciphertext, count: ciphertextCount)
            // K = KDF(K̄' ‖ H(c)) when c' = c, else KDF(z ‖ H(c)): K̄' is overwritten by z without a branch.
            KyberHash.h(ct, count: ciphertextCount, into: keyAndCoins + symBytes)
            constantTimeConditionalCopy(
                mismatch,
                from: UnsafeRawBufferPointer(start: sk + KyberParameters.secretKeyRejectionOffset, count: symBytes),
                to: UnsafeMutableRawBufferPointer(start: keyAndCoins, count: symBytes))
            KyberHash.kdf(keyAndCoins, count: 2 * symBytes, into: sharedKey)
        }
    }

    private static func checkPublicKey(_ publicKey: [UInt8]) throws(CryptoError) {
        guard publicKey.count == publicKeyCount else {
            throw .invalidLength("Kyber-512 public key", expected: publicKeyCount, actual: publicKey.count)
        }
    }
}

/// Returns 1 when the `count` bytes at `a` and `b` differ anywhere and 0 when they are equal, reading
/// every byte and without a data-dependent branch (the result feeds a masked copy, never an `if`).
@inline(never)
func kyberConstantTimeDiffers(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, count: Int) -> UInt8 {
    var difference: UInt8 = 0
    for i in 0..<count {
        difference |= a[i] ^ b[i]
    }
    // (0 - difference) has its top bit set exactly when difference != 0.
    return UInt8(truncatingIfNeeded: (0 &- UInt32(difference)) &>> 31)
}

