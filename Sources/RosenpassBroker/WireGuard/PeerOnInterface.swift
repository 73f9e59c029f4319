// A WireGuard peer on one interface: what a SetPsk request addresses, and what the broker, the
// socket handler and the client track each key's age for.

/// An (interface, peer) pair: the WireGuard peer whose pre-shared key a SetPsk request sets.
public struct PeerOnInterface: Hashable, Sendable {
    /// The interface name.
    public var interface: String
    /// The peer's public key.
    public var peer: WireGuardPublicKey

    /// Creates a pair.
    public init(interface: String, peer: WireGuardPublicKey) {
        self.interface = interface
        self.peer = peer
    }
}
