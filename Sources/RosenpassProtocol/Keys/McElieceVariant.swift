// The two Classic McEliece 460896 wire formats (`docs/protocol.md` §1.1, `docs/mceliece-round3.md` §6–§7).

/// Which Classic McEliece 460896 ciphertext format a handshake uses.
///
/// Public keys are identical in both; secret keys differ only in layout and convert into each
/// other, so one static key pair serves both, and a key's layout says nothing about the format a
/// peer reads. A responder tells the formats apart by message length and answers in the same
/// format; an initiator uses the format configured for the peer, or learned from it, or round 3.
public enum McElieceVariant: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The 188-byte-ciphertext format of liboqs ≤ 0.8 (deployed Rosenpass v0.2.x): secret key
    /// 13568 bytes, InitHello 1092, RespHello 1132, CookieReply 1092.
    case round3
    /// Round 4 (liboqs ≥ 0.9): 156-byte ciphertexts, secret key 13608 bytes, InitHello 1060,
    /// RespHello 1100, CookieReply 1060.
    case round4

    /// Public key length, the same in both variants.
    public static let publicKeyCount = 524_160

    /// Ciphertext length in bytes.
    public var ciphertextCount: Int {
        switch self {
        case .round3: return 188
        case .round4: return 156
        }
    }

    /// Secret key length in bytes.
    public var secretKeyCount: Int {
        switch self {
        case .round3: return 13_568
        case .round4: return 13_608
        }
    }

    /// The variant of a secret key, told apart by its length (13568 ⇒ round 3, 13608 ⇒ round 4).
    public init?(secretKeyCount: Int) {
        guard let variant = Self.allCases.first(where: { $0.secretKeyCount == secretKeyCount }) else { return nil }
        self = variant
    }

    public var description: String {
        switch self {
        case .round3: return "mceliece460896 (round 3, 188-byte ciphertexts)"
        case .round4: return "mceliece460896 round 4 (156-byte ciphertexts)"
        }
    }
}
