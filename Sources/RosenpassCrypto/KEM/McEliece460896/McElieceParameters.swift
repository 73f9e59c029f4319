// The parameter set mceliece460896 and the byte layouts of its keys and ciphertexts.

/// Parameters of Classic McEliece 460896 (Classic McEliece specification, §7 "Parameter sets";
/// `docs/mceliece-round3.md` §1 for the sizes of both variants).
///
/// The code has length n = 4608, corrects t = 96 errors and lives over GF(2^13) (m = 13). The
/// public key is the non-identity part T of the systematic parity-check matrix [I | T], with
/// mt = 1248 rows of k = n − mt = 3360 bits.
enum McEliece460896 {
    /// m: bits per field element.
    static let fieldBits = 13
    /// 2^m: the number of field elements, and the width of the Beneš network.
    static let fieldSize = 1 << 13
    /// n: the code length.
    static let codeLength = 4608
    /// t: the number of errors.
    static let errorCount = 96
    /// mt: rows of the parity-check matrix, bits of the syndrome C0.
    static let syndromeBits = 13 * 96
    /// k = n − mt: columns of T.
    static let publicColumns = 4608 - 13 * 96

    /// Bytes of the error vector e (n bits).
    static let errorBytes = 4608 / 8
    /// Bytes of C0 (mt bits).
    static let syndromeBytes = 13 * 96 / 8
    /// Bytes of one public-key row (k bits).
    static let publicRowBytes = (4608 - 13 * 96) / 8
    /// Bytes of the public key.
    static let publicKeyBytes = 13 * 96 * ((4608 - 13 * 96) / 8)
    /// Bytes of the Goppa polynomial g: t coefficients of 16 bits, the leading 1 not stored.
    static let goppaBytes = 96 * 2
    /// Bytes of the Beneš control bits: (2m − 1) · 2^m / 2 bits.
    static let controlBitsBytes = (2 * 13 - 1) * (1 << 13) / 16
    /// Bytes of the implicit-rejection string s (n bits).
    static let rejectionBytes = 4608 / 8
    /// Bytes of the confirmation hash C1 (round 3 only) and of the session key.
    static let hashBytes = 32
    /// Bytes of the seed of key generation.
    static let seedBytes = 32
    /// Bytes drawn by one attempt of FixedWeight: 2t little-endian 16-bit words.
    static let fixedWeightDrawBytes = 2 * 96 * 2
    /// Bytes of the expansion of one key-generation seed (both variants):
    /// s (576) + 2^m permutation words (32768) + t field elements (192) + the next seed (32).
    static let keyExpansionBytes = 576 + 4 * (1 << 13) + 192 + 32
}

/// Where the fields of a secret key sit, for the two layouts (`docs/mceliece-round3.md` §3 and §5).
struct McElieceSecretKeyLayout: Sendable {
    /// Total size in bytes.
    let count: Int
    /// Offset of the 192-byte Goppa polynomial.
    let goppaOffset: Int
    /// Offset of the 12800 bytes of control bits.
    let controlBitsOffset: Int
    /// Offset of the 576-byte implicit-rejection string s.
    let rejectionOffset: Int

    /// Format A, liboqs ≤ 0.8 "round 3": s ‖ g ‖ control bits (13568 bytes).
    static let round3 = McElieceSecretKeyLayout(count: 13_568, goppaOffset: 576, controlBitsOffset: 768, rejectionOffset: 0)

    /// Round 4: δ (32) ‖ pivots `ff ff ff ff 00 00 00 00` ‖ g ‖ control bits ‖ s (13608 bytes).
    static let round4 = McElieceSecretKeyLayout(
        count: 13_608, goppaOffset: 40, controlBitsOffset: 232, rejectionOffset: 13_032)

    /// Offset of the seed δ in the round-4 layout.
    static let round4SeedOffset = 0
    /// Offset of the 8-byte pivot field c in the round-4 layout; for this parameter set it is always
    /// `ff ff ff ff 00 00 00 00` (the 32 pivots of the "f" variant are the identity).
    static let round4PivotOffset = 32
}
