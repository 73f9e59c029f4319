// The key-encapsulation operations the protocol needs (`docs/protocol.md` §1.1, §1.2).

import RosenpassCrypto

/// The KEMs a crypto server uses: Kyber-512 round 3 for the ephemeral KEM and Classic McEliece
/// 460896 (both wire variants) for the static KEM.
///
/// The protocol core calls KEMs only through this protocol, so that the randomized operations
/// (key generation, encapsulation) can be replayed from a recorded test vector while decapsulation
/// stays real. Production code uses ``StandardKEMs``.
public protocol KEMSuite: Sendable {
    /// Generates a Kyber-512 (round 3) key pair: `(epk 800 bytes, esk 1632 bytes)` (IHI3).
    func generateEphemeralKeyPair(using entropy: inout some HandshakeEntropy) -> (publicKey: [UInt8], secretKey: SecretBytes)
    /// Encapsulates to a Kyber-512 public key: `(ct 768 bytes, shk 32 bytes)` (RHR4).
    func encapsulateEphemeral(publicKey: [UInt8], using entropy: inout some HandshakeEntropy) -> (ciphertext: [UInt8], sharedKey: SecretBytes)
    /// Decapsulates a Kyber-512 ciphertext (RHI4); implicit rejection, never fails.
    func decapsulateEphemeral(secretKey: SecretBytes, ciphertext: [UInt8]) -> SecretBytes
    /// Encapsulates to a McEliece public key in `variant`'s ciphertext format (IHI5, RHR5).
    func encapsulateStatic(
        _ variant: McElieceVariant, publicKey: [UInt8], using entropy: inout some HandshakeEntropy
    ) -> (ciphertext: [UInt8], sharedKey: SecretBytes)
    /// Decapsulates a McEliece ciphertext of `variant` with a secret key in that variant's layout
    /// (IHR5, RHI5); implicit rejection, never fails.
    func decapsulateStatic(_ variant: McElieceVariant, secretKey: SecretBytes, ciphertext: [UInt8]) -> SecretBytes
    /// Converts a McEliece secret key from `variant`'s layout to the other variant's layout
    /// (`docs/mceliece-round3.md` §6).
    func convertStaticSecretKey(_ secretKey: SecretBytes, from variant: McElieceVariant) -> SecretBytes
}
