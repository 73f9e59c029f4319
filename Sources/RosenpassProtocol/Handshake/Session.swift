// Live sessions and the EmptyData acknowledgement (`docs/protocol.md` §2.4, §3.5).

import RosenpassCrypto

/// The role we had in the handshake that made a session.
public enum HandshakeRole: Sendable, Hashable {
    case initiator
    case responder

    /// When a session made in this role triggers a new initiation (`docs/protocol.md` §5.1).
    var rekeyAfter: Seconds {
        switch self {
        case .initiator: return TimerConstants.rekeyAfterTimeInitiator
        case .responder: return TimerConstants.rekeyAfterTimeResponder
        }
    }
}

/// An established session (`enter_live`, `docs/protocol.md` §2.4).
struct Session: Equatable, Sendable {
    let role: HandshakeRole
    let createdAt: Seconds
    /// The final chaining key.
    let chainingKey: Secret
    /// Our session id and the peer's.
    let sidm: SessionID
    let sidt: SessionID
    /// Our transmit key and the peer's.
    let txkm: Secret
    let txkt: Secret
    /// Our transmit counter and the highest counter received.
    var txnm: UInt64 = 0
    var txnt: UInt64 = 0

    /// `enter_live`: derives the transport keys from the final chain.
    init(chain: ChainingKey, role: HandshakeRole, sidi: SessionID, sidr: SessionID, now: Seconds) {
        let constants = DomainConstants.of(chain.version)
        let tki = chain.extract(constants.initiatorEncryption)
        let tkr = chain.extract(constants.responderEncryption)
        self.role = role
        createdAt = now
        chainingKey = chain.value
        switch role {
        case .initiator:
            (sidm, sidt, txkm, txkt) = (sidi, sidr, tki, tkr)
        case .responder:
            (sidm, sidt, txkm, txkt) = (sidr, sidi, tkr, tki)
        }
    }

    /// The output key `osk = H(ck, SEP)` (`docs/protocol.md` §2.5).
    func outputKey(separator: [UInt8], version: ProtocolVersion) -> Secret {
        var osk = Secret(zeros: 32)
        chainingKey.withUnsafeBytes { ck in
            separator.withUnsafeBytes { sep in osk.withUnsafeMutableBytes { version.keyedHash.hash(key: ck, data: sep, into: $0) } }
        }
        return osk
    }

    /// The EmptyData tag for `counter` under `key`: AEAD of an empty plaintext, nonce `ctr ‖ 0^4`.
    static func acknowledgementTag(key: Secret, counter: UInt64) -> [UInt8] {
        key.withUnsafeBytes { k in
            EmptyData.nonce(counter).withUnsafeBytes { n in
                ChaCha20Poly1305.seal(key: k, nonce: n, plaintext: UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
    }

    /// Whether `tag` is the EmptyData tag for `counter` under `key`.
    static func verifyAcknowledgement(tag: [UInt8], key: Secret, counter: UInt64) -> Bool {
        let result: Result<[UInt8], CryptoError> = key.withUnsafeBytes { k in
            EmptyData.nonce(counter).withUnsafeBytes { n in
                tag.withUnsafeBytes { t in
                    Result { () throws(CryptoError) in try ChaCha20Poly1305.open(key: k, nonce: n, ciphertextAndTag: t) }
                }
            }
        }
        if case .success = result { return true }
        return false
    }
}
