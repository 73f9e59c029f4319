// WireGuard's Curve25519 key pair for `rp pubkey` (`docs/components.md` §8.2).

import Crypto
import Foundation
import RosenpassBroker
import RosenpassCrypto

/// X25519 as WireGuard uses it: the public key is X25519(clamp(secret), 9).
enum WireGuardKeys {
    /// The public key of a 32-byte WireGuard private key.
    ///
    /// The private key is used as stored: `rp genkey` writes 32 random bytes without clamping (as
    /// the reference does), and X25519 clamps them, exactly as the kernel does with the same key.
    /// swift-crypto keeps its copy of the key in memory it zeroes on release.
    ///
    /// - Throws: ``AppError`` if the key is not 32 bytes.
    static func publicKey(of secret: SecretBytes) throws(AppError) -> WireGuardPublicKey {
        let raw: [UInt8]
        do {
            raw = try secret.withUnsafeBytes { bytes in
                Array(try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: bytes).publicKey.rawRepresentation)
            }
        } catch {
            throw .runtime("cannot compute the WireGuard public key: \(error)")
        }
        guard let key = WireGuardPublicKey(raw) else {
            throw .runtime("X25519 returned \(raw.count) bytes instead of 32")
        }
        return key
    }
}
