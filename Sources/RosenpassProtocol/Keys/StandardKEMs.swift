// The production KEMs: Kyber-512 round 3 and Classic McEliece 460896 in both formats.

import RosenpassCrypto

/// The KEM implementations of RosenpassCrypto: ``Kyber512`` (round 3) for the ephemeral KEM,
/// ``ClassicMcEliece460896`` (188-byte ciphertexts) and ``ClassicMcEliece460896Round4`` (156-byte
/// ciphertexts) for the static KEM. Randomized operations draw their coins from the entropy source
/// passed in (purpose ``EntropyPurpose/kem``).
public struct StandardKEMs: KEMSuite {
    /// Creates the suite; it holds no state.
    public init() {}

    public func generateEphemeralKeyPair(using entropy: inout some HandshakeEntropy) -> (publicKey: [UInt8], secretKey: SecretBytes) {
        var coins = SecretBytes(zeros: Kyber512.keyPairCoinsCount)
        coins.withUnsafeMutableBytes { entropy.fill($0, for: .kem) }
        guard let pair = try? Kyber512.generateKeyPair(coins: coins) else { preconditionFailure("Kyber512 coins have the right size") }
        return pair
    }

    public func encapsulateEphemeral(publicKey: [UInt8], using entropy: inout some HandshakeEntropy) -> (ciphertext: [UInt8], sharedKey: SecretBytes) {
        var coins = SecretBytes(zeros: Kyber512.encapsulationCoinsCount)
        coins.withUnsafeMutableBytes { entropy.fill($0, for: .kem) }
        guard let result = try? Kyber512.encapsulate(publicKey: publicKey, coins: coins) else {
            preconditionFailure("an InitHello's epki is always 800 bytes")
        }
        return result
    }

    public func decapsulateEphemeral(secretKey: SecretBytes, ciphertext: [UInt8]) -> SecretBytes {
        guard let key = try? Kyber512.decapsulate(secretKey: secretKey, ciphertext: ciphertext) else {
            preconditionFailure("Kyber512 key and ciphertext sizes are fixed by the message layout")
        }
        return key
    }

    public func encapsulateStatic(
        _ variant: McElieceVariant, publicKey: [UInt8], using entropy: inout some HandshakeEntropy
    ) -> (ciphertext: [UInt8], sharedKey: SecretBytes) {
        var coins = KEMCoins(source: entropy)
        defer { entropy = coins.source }
        let result: (ciphertext: [UInt8], sharedKey: SecretBytes)?
        switch variant {
        case .round3: result = try? ClassicMcEliece460896.encapsulate(publicKey: publicKey, using: &coins)
        case .round4: result = try? ClassicMcEliece460896Round4.encapsulate(publicKey: publicKey, using: &coins)
        }
        guard let result else { preconditionFailure("public keys are checked when peers are added") }
        return result
    }

    public func decapsulateStatic(_ variant: McElieceVariant, secretKey: SecretBytes, ciphertext: [UInt8]) -> SecretBytes {
        let key: SecretBytes?
        switch variant {
        case .round3: key = try? ClassicMcEliece460896.decapsulate(secretKey: secretKey, ciphertext: ciphertext)
        case .round4: key = try? ClassicMcEliece460896Round4.decapsulate(secretKey: secretKey, ciphertext: ciphertext)
        }
        guard let key else { preconditionFailure("McEliece key and ciphertext sizes are fixed by the message layout") }
        return key
    }

    public func convertStaticSecretKey(_ secretKey: SecretBytes, from variant: McElieceVariant) -> SecretBytes {
        let converted: SecretBytes?
        switch variant {
        case .round3: converted = try? ClassicMcEliece460896Round4.secretKey(convertingRound3Key: secretKey)
        case .round4: converted = try? ClassicMcEliece460896.secretKey(convertingRound4Key: secretKey)
        }
        guard let converted else { preconditionFailure("the secret key's size was checked against its variant") }
        return converted
    }
}
