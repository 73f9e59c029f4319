// The chaining key and its operations (`docs/protocol.md` §2.3, §2.4).

import RosenpassCrypto

/// The handshake's chaining key `ck`, with the operations of `docs/protocol.md` §2.3.
///
/// It is a value: copying it forks the chain (the initiator works on a copy until RespHello has
/// been checked). The 32 bytes live in a wiped buffer.
struct ChainingKey: Equatable, Sendable {
    /// The version whose `H` and constants the chain uses.
    let version: ProtocolVersion
    /// The current value.
    private(set) var value: Secret

    /// A chain starting from a precomputed `init(spk) = H(lhash("chaining key init"), spk)`.
    init(start: [UInt8], version: ProtocolVersion) {
        precondition(start.count == 32)
        self.version = version
        value = Secret(copying: start)
    }

    /// A chain resumed from a stored value (the biscuit's `ck`, `docs/protocol.md` §4.5 ICR1).
    init(resuming value: Secret, version: ProtocolVersion) {
        precondition(value.count == 32)
        self.version = version
        self.value = value
    }

    private var constants: DomainConstants { DomainConstants.of(version) }

    /// `mix(d)`: `ck = H(H(ck, MIX), d)`.
    mutating func mix(_ data: UnsafeRawBufferPointer) {
        let hash = version.keyedHash
        let mixConstant = constants.mix
        var inner = [UInt8](repeating: 0, count: 32)
        defer { secureZero(&inner) }
        value.withUnsafeMutableBytes { ck in
            inner.withUnsafeMutableBytes { innerBytes in
                mixConstant.withUnsafeBytes { hash.hash(key: UnsafeRawBufferPointer(ck), data: $0, into: innerBytes) }
                hash.hash(key: UnsafeRawBufferPointer(innerBytes), data: data, into: ck)
            }
        }
    }

    /// `mix(d)` for public bytes.
    mutating func mix(_ data: [UInt8]) {
        data.withUnsafeBytes { mix($0) }
    }

    /// `mix(d)` for secret bytes.
    mutating func mix(_ secret: Secret) {
        secret.withUnsafeBytes { mix($0) }
    }

    /// `mix(d)` for secret bytes.
    mutating func mix(_ secret: SecretBytes) {
        secret.withUnsafeBytes { mix($0) }
    }

    /// `extract(C) = H(ck, C)` for one of the 32-byte constants.
    func extract(_ constant: [UInt8]) -> Secret {
        var out = Secret(zeros: 32)
        let hash = version.keyedHash
        value.withUnsafeBytes { ck in
            constant.withUnsafeBytes { c in out.withUnsafeMutableBytes { hash.hash(key: ck, data: c, into: $0) } }
        }
        return out
    }

    private static let zeroNonce = [UInt8](repeating: 0, count: ChaCha20Poly1305.nonceCount)

    /// `encrypt_and_mix(pt)`: seals `pt` under `H(ck, HS_ENC)` with a zero nonce, mixes the
    /// ciphertext and returns it (`pt.count + 16` bytes).
    mutating func encryptAndMix(_ plaintext: UnsafeRawBufferPointer) -> [UInt8] {
        let key = extract(constants.handshakeEncryption)
        let ciphertext = key.withUnsafeBytes { k in
            Self.zeroNonce.withUnsafeBytes { n in ChaCha20Poly1305.seal(key: k, nonce: n, plaintext: plaintext) }
        }
        mix(ciphertext)
        return ciphertext
    }

    /// `encrypt_and_mix` of an empty plaintext: the 16-byte "auth" tag.
    mutating func encryptAndMixEmpty() -> [UInt8] {
        encryptAndMix(UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// `decrypt_and_mix(ct)`: opens `ct` under `H(ck, HS_ENC)` with a zero nonce, then mixes the
    /// ciphertext (tag included). On failure the chain is left unchanged.
    ///
    /// - Throws: ``ProtocolError`` of kind `authenticationFailed` when the tag does not verify.
    mutating func decryptAndMix(_ ciphertext: [UInt8], what: String) throws(ProtocolError) -> Secret {
        let key = extract(constants.handshakeEncryption)
        let opened: Result<[UInt8], CryptoError> = key.withUnsafeBytes { k in
            Self.zeroNonce.withUnsafeBytes { n in
                ciphertext.withUnsafeBytes { c in
                    Result { () throws(CryptoError) in try ChaCha20Poly1305.open(key: k, nonce: n, ciphertextAndTag: c) }
                }
            }
        }
        guard case .success(var plaintext) = opened else { throw .authenticationFailed("\(what) does not decrypt") }
        let secret = Secret(copying: plaintext)
        secureZero(&plaintext)
        mix(ciphertext)
        return secret
    }

    /// `encaps_and_mix` with an encapsulation already made: `mix(pk); mix(shk); mix(ct)`.
    mutating func mixEncapsulation(publicKey: [UInt8], sharedKey: SecretBytes, ciphertext: [UInt8]) {
        mix(publicKey)
        mix(sharedKey)
        mix(ciphertext)
    }
}
