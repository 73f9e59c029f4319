// The domain separator of the output shared key (`docs/protocol.md` §2.5).

/// Which output key a handshake produces: the WireGuard PSK (the default) or a custom one.
///
/// `SEP = lhash(ver, "chaining key extract", "user", organization, labels...)` and
/// `osk = H(ck_final, SEP)` (`docs/protocol.md` §2.5). Both peers must use the same separator, or their
/// keys differ silently.
public struct OutputKeyDomainSeparator: Hashable, Sendable, CustomStringConvertible {
    /// The namespace, e.g. `"rosenpass.eu"`.
    public let organization: String
    /// The labels under the namespace, each hashed separately.
    public let labels: [String]

    /// A custom separator: the config keys `osk_organization` and `osk_label`.
    public init(organization: String, labels: [String]) {
        self.organization = organization
        self.labels = labels
    }

    /// The WireGuard PSK separator: `"rosenpass.eu"`, `["wireguard psk"]`.
    public static let wireGuardPSK = OutputKeyDomainSeparator(organization: "rosenpass.eu", labels: ["wireguard psk"])

    /// The 32-byte compressed separator for `version`.
    func compressed(_ version: ProtocolVersion) -> [UInt8] {
        var domain = DomainConstants.of(version).user.adding(organization)
        for label in labels { domain = domain.adding(label) }
        return domain.value
    }

    public var description: String {
        "\(organization) \(labels.map { "\"\($0)\"" }.joined(separator: " "))"
    }
}
