// Generating static key pairs with the crypto module's Classic McEliece 460896.

import RosenpassCrypto
import RosenpassProtocol

/// Makes Classic McEliece 460896 key pairs in either secret-key layout.
enum StaticKeyGenerator {
    /// A fresh key pair from the system random number generator: the public key (524160 bytes)
    /// and the secret key (13568 bytes for round 3, 13608 for round 4).
    static func generate(_ variant: McElieceVariant) -> (publicKey: [UInt8], secretKey: SecretBytes) {
        switch variant {
        case .round3: return ClassicMcEliece460896.generateKeyPair()
        case .round4: return ClassicMcEliece460896Round4.generateKeyPair()
        }
    }
}
