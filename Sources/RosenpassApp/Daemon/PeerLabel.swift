// How the daemon names a peer in what it tells the operator.

import RosenpassProtocol

/// A peer as the operator knows it: the configured `name`, or else what the configuration says
/// about it (endpoint, WireGuard interface and peer key) and a short form of its Rosenpass peer id.
public struct PeerLabel: Sendable, Hashable, CustomStringConvertible {
    /// `name` from the configuration, if any.
    public let name: String?
    /// The configured endpoint (`host:port`), if any.
    public let endpoint: String?
    /// The WireGuard interface and the peer's WireGuard public key (base64), if configured.
    public let wireGuard: WireGuardName?
    /// The peer id, standard base64 (as in the `output-key` lines).
    public let peerID: String

    /// An interface and a WireGuard peer key.
    public struct WireGuardName: Sendable, Hashable {
        public let device: String
        public let peerKey: String
    }

    public init(name: String?, endpoint: String?, wireGuard: WireGuardName?, peerID: String) {
        self.name = name
        self.endpoint = endpoint
        self.wireGuard = wireGuard
        self.peerID = peerID
    }

    /// The first eight characters of the peer id: enough to tell peers apart, and to find the
    /// whole id in the `output-key` lines.
    public var shortID: String { String(peerID.prefix(8)) }

    /// `wg0:xTIBA5rb…`: the interface and the start of the WireGuard peer key, as `wg show` lists it.
    var wireGuardText: String? { wireGuard.map { "\($0.device):\($0.peerKey.prefix(8))…" } }

    /// The name if there is one, otherwise `[endpoint wg0:key… id:short]`.
    public var description: String {
        if let name { return name }
        return "[" + [endpoint, wireGuardText, "id:\(shortID)"].compactMap { $0 }.joined(separator: " ") + "]"
    }

    /// Everything known about the peer, for the start-up summary: `bob (192.0.2.1:9999, wg0:xTIB…, id:AbCd…)`.
    public var details: String {
        var parts = [String]()
        if name != nil, let endpoint { parts.append(endpoint) }
        if endpoint == nil { parts.append("responder only") }
        if name != nil, let wireGuardText { parts.append(wireGuardText) }
        if name != nil { parts.append("id:\(shortID)") }
        return parts.isEmpty ? description : "\(description) (\(parts.joined(separator: ", ")))"
    }
}

/// `12 s`, `3 min 20 s`, `2 h 5 min`: a duration as an operator reads it.
func humanDuration(_ seconds: Double) -> String {
    let total = Int(seconds.rounded())
    if total < 60 { return "\(total) s" }
    if total < 3600 { return total % 60 == 0 ? "\(total / 60) min" : "\(total / 60) min \(total % 60) s" }
    let minutes = (total % 3600) / 60
    return minutes == 0 ? "\(total / 3600) h" : "\(total / 3600) h \(minutes) min"
}
