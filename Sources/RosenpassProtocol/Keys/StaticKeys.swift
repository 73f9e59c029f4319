// Static keys and the values derived from them once (`docs/protocol.md` §7, §9).

import RosenpassCrypto

/// The values that depend only on a static public key and a version, computed once instead of
/// hashing 512 KiB for every message (`docs/protocol.md` §9).
struct PublicKeyDigests: Equatable, Sendable {
    let version: ProtocolVersion
    /// `init(spk) = H(lhash(ver, "chaining key init"), spk)`: the start of a chain to this key.
    let chainingKeyStart: [UInt8]
    /// `H(lhash(ver, "mac"), spk)`: the key of the envelope MAC of messages to this key.
    let macKey: [UInt8]
    /// `lhash(ver, "peer id", spk)`.
    let peerID: PeerID

    /// Hashes `publicKey` three times, or twice when its peer id is already known.
    init(publicKey: [UInt8], version: ProtocolVersion, peerID knownPeerID: PeerID? = nil) {
        let constants = DomainConstants.of(version)
        self.version = version
        chainingKeyStart = constants.chainingKeyInit.adding(publicKey).value
        macKey = constants.mac.adding(publicKey).value
        peerID = knownPeerID ?? PeerID(bytes: constants.peerID.adding(publicKey).value)
    }
}

/// Our static key pair, with its secret key in both McEliece layouts and the cached digests of its
/// public key under both versions.
struct LocalStaticKeys: Equatable, Sendable {
    let publicKey: [UInt8]
    /// The secret key in the round-3 layout (13568 bytes), for 188-byte ciphertexts.
    let round3SecretKey: Secret
    /// The secret key in the round-4 layout (13608 bytes), for 156-byte ciphertexts.
    let round4SecretKey: Secret
    /// The variant of the key we were given; the default for initiating.
    let nativeVariant: McElieceVariant
    let v02: PublicKeyDigests
    let v03: PublicKeyDigests
    /// `H(lhash(ver, "biscuit additional data"), spkm)`, per version: the cached prefix of the biscuit AD.
    let biscuitADPrefixV02: [UInt8]
    let biscuitADPrefixV03: [UInt8]
    /// `lhash(V03, "cookie-key", spkm)`: the key that encrypts our CookieReplies.
    let cookieKey: Secret

    init(secretKey: SecretBytes, publicKey: [UInt8], kems: some KEMSuite) throws(ProtocolError) {
        guard publicKey.count == McElieceVariant.publicKeyCount else {
            throw .invalidConfiguration(
                "static public key must be \(McElieceVariant.publicKeyCount) bytes, got \(publicKey.count)")
        }
        guard let variant = McElieceVariant(secretKeyCount: secretKey.count) else {
            throw .invalidConfiguration(
                "static secret key must be 13568 (round 3) or 13608 (round 4) bytes, got \(secretKey.count)")
        }
        self.publicKey = publicKey
        nativeVariant = variant
        let converted = kems.convertStaticSecretKey(secretKey, from: variant)
        switch variant {
        case .round3:
            round3SecretKey = Secret(secretKey)
            round4SecretKey = Secret(converted)
        case .round4:
            round4SecretKey = Secret(secretKey)
            round3SecretKey = Secret(converted)
        }
        v02 = PublicKeyDigests(publicKey: publicKey, version: .v02)
        v03 = PublicKeyDigests(publicKey: publicKey, version: .v03)
        biscuitADPrefixV02 = DomainConstants.of(.v02).biscuitAD.adding(publicKey).value
        biscuitADPrefixV03 = DomainConstants.of(.v03).biscuitAD.adding(publicKey).value
        cookieKey = Secret(copying: DomainConstants.cookies.cookieKey.adding(publicKey).value)
    }

    func digests(_ version: ProtocolVersion) -> PublicKeyDigests {
        switch version {
        case .v02: return v02
        case .v03: return v03
        }
    }

    func biscuitADPrefix(_ version: ProtocolVersion) -> [UInt8] {
        switch version {
        case .v02: return biscuitADPrefixV02
        case .v03: return biscuitADPrefixV03
        }
    }

    func secretKey(_ variant: McElieceVariant) -> Secret {
        switch variant {
        case .round3: return round3SecretKey
        case .round4: return round4SecretKey
        }
    }

    static func == (lhs: LocalStaticKeys, rhs: LocalStaticKeys) -> Bool {
        lhs.publicKey == rhs.publicKey && lhs.round3SecretKey == rhs.round3SecretKey
            && lhs.round4SecretKey == rhs.round4SecretKey
    }
}
