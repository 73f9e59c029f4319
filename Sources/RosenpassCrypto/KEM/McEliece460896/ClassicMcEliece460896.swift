// The public KEM types: Classic McEliece 460896 in its two deployed formats.

/// Classic McEliece 460896 in the format Rosenpass v0.2.x, go-rosenpass and the reference's main
/// branch use: the algorithm liboqs 0.4–0.8 call `Classic-McEliece-460896` (NIST round 3 as shipped,
/// the 2019 code; format A of `docs/mceliece-round3.md`).
///
/// - Public key: 524160 bytes, the same as in round 4.
/// - Secret key: 13568 bytes, s ‖ g ‖ control bits.
/// - Ciphertext: 188 bytes, C0 ‖ C1 with the confirmation hash C1 = H(2, e).
/// - Session key: H(1, e, C0, C1); on any failure the rejection key H(0, s, C0, C1). H is SHAKE256
///   cut to 32 bytes.
///
/// Decapsulation, encapsulation and the secret key convert to and from
/// ``ClassicMcEliece460896Round4``: one static key pair serves both ciphertext formats
/// (``secretKey(convertingRound4Key:)``).
public enum ClassicMcEliece460896: ClassicMcEliece460896Format {
    public static let name = "mceliece460896"
    public static let format = McEliece460896FormatTraits(
        keyGeneration: .round3, layout: .round3, withConfirmation: true, label: "Classic McEliece 460896")

    /// Converts a round-4 secret key (13608 bytes) to this layout (13568 bytes): s, g and the control
    /// bits move; the seed δ and the pivot field are dropped (`docs/mceliece-round3.md` §6). The public key
    /// is unchanged, so the converted key decapsulates 188-byte ciphertexts for the same public key.
    ///
    /// - Throws: ``CryptoError/invalidLength(_:expected:actual:)`` unless the key has 13608 bytes.
    public static func secretKey(convertingRound4Key key: SecretBytes) throws(CryptoError) -> SecretBytes {
        try McElieceSecretKeyLayout.convert(key, from: .round4, to: .round3)
    }
}

/// Classic McEliece 460896 as NIST round 4 defines it (2022-10-23) and liboqs ≥ 0.9 ship it
/// (`classic_mceliece_460896`, `docs/protocol.md` §1.1), used by the reference from 2024 to 2026 and by
/// its handshake test vector.
///
/// - Public key: 524160 bytes. Secret key: 13608 bytes, δ ‖ pivots ‖ g ‖ control bits ‖ s.
/// - Ciphertext: 156 bytes, C0 only. Session key H(1, e, C0); rejection key H(0, s, C0).
/// - Seeded key generation: SHAKE256(64 ‖ δ), retrying with the next δ (specification §9.0
///   "SeededKeyGen"); the same seed gives the same bytes as liboqs ≥ 0.9 and PQClean.
public enum ClassicMcEliece460896Round4: ClassicMcEliece460896Format {
    public static let name = "mceliece460896-r4"
    public static let format = McEliece460896FormatTraits(
        keyGeneration: .round4, layout: .round4, withConfirmation: false, label: "Classic McEliece 460896 round-4")

    /// Converts a round-3 (format A, 13568-byte) secret key to the round-4 layout (13608 bytes), so
    /// that it decapsulates 156-byte ciphertexts for the same public key (`docs/mceliece-round3.md` §6).
    /// Format A keys hold no seed: δ is set to 32 zero bytes, which decapsulation never reads.
    ///
    /// - Throws: ``CryptoError/invalidLength(_:expected:actual:)`` unless the key has 13568 bytes.
    public static func secretKey(convertingRound3Key key: SecretBytes) throws(CryptoError) -> SecretBytes {
        try McElieceSecretKeyLayout.convert(key, from: .round3, to: .round4)
    }
}

/// What tells the two formats of Classic McEliece 460896 apart: how keys are generated from a seed,
/// where the fields of the secret key lie, and whether the ciphertext carries the confirmation hash
/// C1. Everything else, including the public key, is shared.
public struct McEliece460896FormatTraits: Sendable {
    let keyGeneration: McElieceKeyGeneration.Variant
    let layout: McElieceSecretKeyLayout
    let withConfirmation: Bool
    /// How errors name the format's keys and ciphertexts.
    let label: String
}

/// The two formats of Classic McEliece 460896 (``ClassicMcEliece460896``,
/// ``ClassicMcEliece460896Round4``): one implementation of the KEM, told apart by ``format``.
public protocol ClassicMcEliece460896Format: KeyEncapsulationMechanism {
    /// What distinguishes this format.
    static var format: McEliece460896FormatTraits { get }
}

extension ClassicMcEliece460896Format {
    public static var publicKeyCount: Int { McEliece460896.publicKeyBytes }
    public static var secretKeyCount: Int { format.layout.count }
    /// 188 bytes (C0 ‖ C1) with the confirmation hash, 156 (C0) without.
    public static var ciphertextCount: Int { McEliece460896.syndromeBytes + (format.withConfirmation ? McEliece460896.hashBytes : 0) }
    public static var sharedKeyCount: Int { McEliece460896.hashBytes }

    /// Generates a key pair from the system random number generator.
    public static func generateKeyPair() -> (publicKey: [UInt8], secretKey: SecretBytes) {
        let seed = SecretBytes.random(count: McEliece460896.seedBytes)
        let pair = seed.withUnsafeBytes { McElieceKeyGeneration.generate(seed: $0, variant: format.keyGeneration) }
        return (pair.publicKey, pair.secretKey)
    }

    /// Generates the key pair determined by a 32-byte seed, as the format's reference code does after
    /// drawing it (`docs/mceliece-round3.md` §5): round 3 keys AES-256-CTR with σ and continues with the
    /// next σ from the keystream after a failed attempt; round 4 expands δ with SHAKE256. The same
    /// seed gives the same bytes as liboqs (0.8 for round 3, ≥ 0.9 for round 4) and PQClean.
    ///
    /// - Throws: ``CryptoError/invalidLength(_:expected:actual:)`` unless the seed has 32 bytes.
    public static func generateKeyPair(seed: SecretBytes) throws(CryptoError) -> (publicKey: [UInt8], secretKey: SecretBytes) {
        guard seed.count == McEliece460896.seedBytes else {
            throw .invalidLength("Classic McEliece key generation seed", expected: McEliece460896.seedBytes, actual: seed.count)
        }
        let pair = seed.withUnsafeBytes { McElieceKeyGeneration.generate(seed: $0, variant: format.keyGeneration) }
        return (pair.publicKey, pair.secretKey)
    }

    /// Encapsulates a fresh session key to `publicKey` with the system random number generator.
    public static func encapsulate(publicKey: [UInt8]) throws(CryptoError) -> (ciphertext: [UInt8], sharedKey: SecretBytes) {
        var generator = SystemRandom()
        return try encapsulate(publicKey: publicKey, using: &generator)
    }

    /// Encapsulates with randomness from `generator`: each attempt of FixedWeight draws 384 bytes, as
    /// liboqs and PQClean draw them, so recorded coins reproduce their ciphertexts.
    ///
    /// - Throws: ``CryptoError/invalidLength(_:expected:actual:)`` for a public key of the wrong size.
    public static func encapsulate(
        publicKey: [UInt8], using generator: inout some RandomBytesGenerator
    ) throws(CryptoError) -> (ciphertext: [UInt8], sharedKey: SecretBytes) {
        guard publicKey.count == publicKeyCount else {
            throw .invalidLength("Classic McEliece 460896 public key", expected: publicKeyCount, actual: publicKey.count)
        }
        return McElieceEncapsulation.encapsulate(publicKey: publicKey, withConfirmation: format.withConfirmation, using: &generator)
    }

    /// Decapsulates a ciphertext of ``ciphertextCount`` bytes; one that does not decode (or, with the
    /// confirmation hash, whose C1 does not match) gives the rejection key: implicit rejection, no error.
    ///
    /// - Throws: ``CryptoError/invalidLength(_:expected:actual:)`` when the secret key or the
    ///   ciphertext has the wrong size.
    public static func decapsulate(secretKey: SecretBytes, ciphertext: [UInt8]) throws(CryptoError) -> SecretBytes {
        guard secretKey.count == secretKeyCount else {
            throw .invalidLength("\(format.label) secret key", expected: secretKeyCount, actual: secretKey.count)
        }
        guard ciphertext.count == ciphertextCount else {
            throw .invalidLength("\(format.label) ciphertext", expected: ciphertextCount, actual: ciphertext.count)
        }
        return McElieceDecapsulation.decapsulate(
            secretKey: secretKey, ciphertext: ciphertext, layout: format.layout, withConfirmation: format.withConfirmation)
    }
}

extension McElieceSecretKeyLayout {
    /// Moves g, the control bits and s from one layout to the other; a round-4 target gets δ = 0 and
    /// the pivot field `ff ff ff ff 00 00 00 00`.
    static func convert(
        _ key: SecretBytes, from source: McElieceSecretKeyLayout, to target: McElieceSecretKeyLayout
    ) throws(CryptoError) -> SecretBytes {
        guard key.count == source.count else {
            throw .invalidLength("Classic McEliece 460896 secret key to convert", expected: source.count, actual: key.count)
        }
        var converted = SecretBytes(zeros: target.count)
        converted.withUnsafeMutableBytes { out in
            key.withUnsafeBytes { sk in
                func move(_ from: Int, _ to: Int, _ count: Int) {
                    (out.baseAddress! + to).copyMemory(from: sk.baseAddress! + from, byteCount: count)
                }
                move(source.goppaOffset, target.goppaOffset, McEliece460896.goppaBytes)
                move(source.controlBitsOffset, target.controlBitsOffset, McEliece460896.controlBitsBytes)
                move(source.rejectionOffset, target.rejectionOffset, McEliece460896.rejectionBytes)
            }
            if target.count == McElieceSecretKeyLayout.round4.count {
                for i in 0..<4 { out[McElieceSecretKeyLayout.round4PivotOffset + i] = 0xFF }
            }
        }
        return converted
    }
}
