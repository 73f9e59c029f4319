// The parameter set of Kyber-512 (CRYSTALS-Kyber v3.02, round 3), and the sizes that follow from it.

/// The constants of Kyber-512 (Kyber specification v3.02, section 1.4, table 1).
///
/// Sizes are in bytes. Polynomials have `n` = 256 coefficients modulo `q` = 3329; a module element
/// has `k` = 2 polynomials.
enum KyberParameters {
    /// The degree of the ring: polynomials live in Z_q[X]/(X^256 + 1).
    static let n = 256
    /// The modulus.
    static let q: Int16 = 3329
    /// The rank of the module.
    static let k = 2
    /// The width of the centred binomial distribution for the secret, the key-generation noise and `r`.
    static let eta1 = 3
    /// The width of the centred binomial distribution for the encryption noise `e1` and `e2`.
    static let eta2 = 2
    /// Bits per coefficient of the compressed `u`.
    static let du = 10
    /// Bits per coefficient of the compressed `v`.
    static let dv = 4

    /// Seeds, messages, hashes and shared keys are 32 bytes.
    static let symBytes = 32
    /// One polynomial with 12-bit coefficients.
    static let polyBytes = 384
    /// A module element with 12-bit coefficients: the encoded `t̂` or `ŝ`.
    static let polyVecBytes = k * polyBytes
    /// One polynomial compressed to `du` bits per coefficient.
    static let polyCompressedBytesU = n * du / 8
    /// One polynomial compressed to `dv` bits per coefficient.
    static let polyCompressedBytesV = n * dv / 8
    /// The compressed `u`.
    static let polyVecCompressedBytes = k * polyCompressedBytesU

    /// The IND-CPA public key: `t̂ ‖ ρ`.
    static let cpaPublicKeyBytes = polyVecBytes + symBytes
    /// The IND-CPA secret key: `ŝ`.
    static let cpaSecretKeyBytes = polyVecBytes
    /// The ciphertext: `compress(u) ‖ compress(v)`.
    static let ciphertextBytes = polyVecCompressedBytes + polyCompressedBytesV

    /// The KEM public key (the IND-CPA public key).
    static let publicKeyBytes = cpaPublicKeyBytes
    /// The KEM secret key: `ŝ ‖ pk ‖ H(pk) ‖ z`.
    static let secretKeyBytes = cpaSecretKeyBytes + cpaPublicKeyBytes + 2 * symBytes
    /// The shared key.
    static let sharedKeyBytes = 32

    /// Offset of the public key inside the KEM secret key.
    static let secretKeyPublicKeyOffset = cpaSecretKeyBytes
    /// Offset of `H(pk)` inside the KEM secret key.
    static let secretKeyHashOffset = secretKeyBytes - 2 * symBytes
    /// Offset of the rejection secret `z` inside the KEM secret key.
    static let secretKeyRejectionOffset = secretKeyBytes - symBytes

    /// Bytes of SHAKE256 output for one polynomial from the centred binomial distribution with width `eta`.
    static func noiseBytes(eta: Int) -> Int { eta * n / 4 }

    /// The rate of SHAKE128 in bytes: the matrix is sampled one block of this size at a time.
    static let shake128Rate = 168
}
