// Label chains and the precomputed domain constants (`docs/protocol.md` §2.1, §2.2, Appendix A).

import RosenpassCrypto

/// A 32-byte hash domain: a value to which labels and data are added one `H` call at a time.
///
/// `extend(v, x) = H(v, x)`; the value so far is the key and the new item the data
/// (`docs/protocol.md` §2.1). Nothing is ever concatenated.
struct HashDomain: Hashable, Sendable {
    let version: ProtocolVersion
    private(set) var value: [UInt8]

    /// The root `H(0^32, PROTOCOL[version])`.
    static func root(_ version: ProtocolVersion) -> HashDomain {
        HashDomain(version: version, value: version.hash(key: [UInt8](repeating: 0, count: 32), label: version.protocolString))
    }

    /// `lhash(version, labels...)`: the root extended by each label in turn.
    static func labels(_ version: ProtocolVersion, _ labels: String...) -> HashDomain {
        labels.reduce(root(version)) { $0.adding($1) }
    }

    /// This domain extended by a UTF-8 label.
    func adding(_ label: String) -> HashDomain {
        HashDomain(version: version, value: version.hash(key: value, label: label))
    }

    /// This domain extended by a datum (a public key, a session id, ...).
    func adding(_ data: UnsafeRawBufferPointer) -> HashDomain {
        HashDomain(version: version, value: value.withUnsafeBytes { version.hash(key: $0, data: data) })
    }

    /// This domain extended by a datum.
    func adding(_ data: [UInt8]) -> HashDomain {
        data.withUnsafeBytes { adding($0) }
    }
}

/// The constants of one version's hash tree, computed once (`docs/protocol.md` §2.2, Appendix A).
struct DomainConstants: Sendable {
    let version: ProtocolVersion
    /// `lhash("mac")`: key of the envelope MAC chain.
    let mac: HashDomain
    /// `lhash("cookie")`.
    let cookie: HashDomain
    /// `lhash("cookie-value")`.
    let cookieValue: HashDomain
    /// `lhash("cookie-key")`.
    let cookieKey: HashDomain
    /// `lhash("peer id")`.
    let peerID: HashDomain
    /// `lhash("biscuit additional data")`.
    let biscuitAD: HashDomain
    /// `lhash("chaining key init")`.
    let chainingKeyInit: HashDomain
    /// `lhash("chaining key extract")`.
    let chainingKeyExtract: HashDomain
    /// MIX = `lhash("chaining key extract", "mix")`.
    let mix: [UInt8]
    /// HS_ENC = `lhash("chaining key extract", "handshake encryption")`.
    let handshakeEncryption: [UInt8]
    /// INI_ENC = `lhash("chaining key extract", "initiator handshake encryption")`.
    let initiatorEncryption: [UInt8]
    /// RES_ENC = `lhash("chaining key extract", "responder handshake encryption")`.
    let responderEncryption: [UInt8]
    /// `lhash("chaining key extract", "user")`: the namespace of output-key separators.
    let user: HashDomain

    private init(_ version: ProtocolVersion) {
        self.version = version
        let root = HashDomain.root(version)
        mac = root.adding("mac")
        cookie = root.adding("cookie")
        cookieValue = root.adding("cookie-value")
        cookieKey = root.adding("cookie-key")
        peerID = root.adding("peer id")
        biscuitAD = root.adding("biscuit additional data")
        chainingKeyInit = root.adding("chaining key init")
        chainingKeyExtract = root.adding("chaining key extract")
        mix = chainingKeyExtract.adding("mix").value
        handshakeEncryption = chainingKeyExtract.adding("handshake encryption").value
        initiatorEncryption = chainingKeyExtract.adding("initiator handshake encryption").value
        responderEncryption = chainingKeyExtract.adding("responder handshake encryption").value
        user = chainingKeyExtract.adding("user")
    }

    private static let v02 = DomainConstants(.v02)
    private static let v03 = DomainConstants(.v03)

    /// The constants of `version`, computed on first use.
    static func of(_ version: ProtocolVersion) -> DomainConstants {
        switch version {
        case .v02: return v02
        case .v03: return v03
        }
    }

    /// The cookie machinery always uses the V03 tree, whatever the peer's version (`docs/protocol.md` §1.5, §6).
    static var cookies: DomainConstants { v03 }
}
