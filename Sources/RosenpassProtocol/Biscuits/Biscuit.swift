// The biscuit: the responder's handshake state, carried by the initiator (`docs/protocol.md` §3.6).

import RosenpassCrypto

/// The biscuit plaintext (76 bytes): `pidi(32) ‖ biscuit_no(12, LE) ‖ ck(32)`.
struct BiscuitContents: Equatable {
    static let plaintextCount = 76

    let peerID: PeerID
    let number: BiscuitNumber
    let chainingKey: Secret

    /// Seals the biscuit under `key` (slot `slot`) with a 24-byte random nonce whose top bit is
    /// replaced by the slot; returns the 116-byte `nonce ‖ ciphertext ‖ tag`.
    func seal(key: Secret, slot: Int, nonce drawn: [UInt8], associatedData: [UInt8]) -> [UInt8] {
        var nonce = drawn
        nonce[0] = (nonce[0] & 0x7F) | UInt8(slot << 7)
        var plaintext = [UInt8](repeating: 0, count: Self.plaintextCount)
        defer { secureZero(&plaintext) }
        plaintext.replaceSubrange(0..<32, with: peerID.bytes)
        plaintext.replaceSubrange(32..<44, with: number.littleEndianBytes)
        chainingKey.withUnsafeBytes { ck in
            plaintext.withUnsafeMutableBytes { UnsafeMutableRawBufferPointer(rebasing: $0[44..<76]).copyMemory(from: ck) }
        }
        return key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                associatedData.withUnsafeBytes { ad in
                    plaintext.withUnsafeBytes { XChaCha20Poly1305.seal(key: k, nonce: n, associatedData: ad, plaintext: $0) }
                }
            }
        }
    }

    /// The key slot named by a sealed biscuit: the top bit of its first byte.
    static func slot(of sealed: [UInt8]) -> Int { Int(sealed[0] >> 7) }

    /// Opens a sealed biscuit.
    ///
    /// - Throws: ``ProtocolError`` of kind `authenticationFailed` when it does not decrypt.
    static func open(_ sealed: [UInt8], key: Secret, associatedData: [UInt8]) throws(ProtocolError) -> BiscuitContents {
        let result: Result<[UInt8], CryptoError> = key.withUnsafeBytes { k in
            sealed.withUnsafeBytes { s in
                associatedData.withUnsafeBytes { ad in
                    Result { () throws(CryptoError) in try XChaCha20Poly1305.open(key: k, sealed: s, associatedData: ad) }
                }
            }
        }
        guard case .success(var plaintext) = result, plaintext.count == plaintextCount else {
            throw .authenticationFailed("InitConf: the biscuit does not decrypt (older than the biscuit keys, or from before a restart)", reason: .staleBiscuit)
        }
        defer { secureZero(&plaintext) }
        return BiscuitContents(
            peerID: PeerID(bytes: Array(plaintext[0..<32])),
            number: BiscuitNumber(littleEndian: plaintext[32..<44]),
            chainingKey: plaintext.withUnsafeBytes { Secret(SecretBytes(copying: UnsafeRawBufferPointer(rebasing: $0[44..<76]))) })
    }

    /// The biscuit AD: `lhash(ver, "biscuit additional data", spkr, sidi, sidr)`, from the cached
    /// `H(lhash(ver, "biscuit additional data"), spkr)`.
    static func associatedData(prefix: [UInt8], version: ProtocolVersion, sidi: SessionID, sidr: SessionID) -> [UInt8] {
        version.hash(key: version.hash(key: prefix, data: sidi.bytes), data: sidr.bytes)
    }
}
