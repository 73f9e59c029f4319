// What every key-encapsulation mechanism offers to the protocol.

/// A key-encapsulation mechanism with implicit rejection, in liboqs byte formats.
///
/// Decapsulation never fails: a ciphertext that does not decode yields a pseudorandom rejection key
/// derived from the secret key and the ciphertext. Sizes are checked by the caller or by the
/// `throws` entry points.
public protocol KeyEncapsulationMechanism: Sendable {
    /// A short name, as used by `rosenpass-crypto --alg`.
    static var name: String { get }
    /// Public key length in bytes.
    static var publicKeyCount: Int { get }
    /// Secret key length in bytes.
    static var secretKeyCount: Int { get }
    /// Ciphertext length in bytes.
    static var ciphertextCount: Int { get }
    /// Shared key length in bytes.
    static var sharedKeyCount: Int { get }

    /// Generates a key pair from the system random number generator.
    static func generateKeyPair() -> (publicKey: [UInt8], secretKey: SecretBytes)

    /// Encapsulates a fresh shared key to `publicKey`.
    ///
    /// - Throws: ``CryptoError/invalidLength(_:expected:actual:)`` for a public key of the wrong size.
    static func encapsulate(publicKey: [UInt8]) throws(CryptoError) -> (ciphertext: [UInt8], sharedKey: SecretBytes)

    /// Decapsulates `ciphertext` with `secretKey`; returns the rejection key when it does not decode.
    ///
    /// - Throws: ``CryptoError/invalidLength(_:expected:actual:)`` when a size is wrong.
    static func decapsulate(secretKey: SecretBytes, ciphertext: [UInt8]) throws(CryptoError) -> SecretBytes
}
