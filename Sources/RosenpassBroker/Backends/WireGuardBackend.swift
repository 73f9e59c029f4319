// What a WireGuard backend does for the broker: overwrite one existing peer's preshared key.

/// The outcome of asking a backend to set a peer's preshared key.
public enum SetPskOutcome: Sendable, Equatable {
    /// The key is installed.
    case installed
    /// This backend has no WireGuard interface of that name.
    case noSuchInterface
    /// The interface exists but has no peer with that public key; nothing was changed.
    case noSuchPeer
    /// Anything else; the message names the interface and the failing step.
    case failed(String)

    /// The broker return code for this outcome (docs/components.md §1.4).
    public var returnCode: BrokerReturnCode {
        switch self {
        case .installed: return .success
        case .noSuchInterface: return .noSuchInterface
        case .noSuchPeer: return .noSuchPeer
        case .failed: return .internalError
        }
    }
}

/// A way to reach WireGuard that can overwrite the preshared key of one peer that already exists.
///
/// Implementations must check that the peer exists first (and answer ``SetPskOutcome/noSuchPeer``
/// otherwise), never add peers, and change nothing but that one peer's preshared key
/// (docs/components.md §2.1).
public protocol WireGuardBackend: AnyObject {
    /// Sets `presharedKey` on the existing peer `peer` of `interface`.
    func setPresharedKey(_ presharedKey: PresharedKey, peer: WireGuardPublicKey, interface: String) -> SetPskOutcome
}

/// Chooses the backend per interface: userspace WireGuard when `/var/run/wireguard/<interface>.sock`
/// is a socket (wireguard-go, boringtun), otherwise kernel WireGuard over generic netlink. An interface
/// found in neither is ``SetPskOutcome/noSuchInterface``.
public final class AutomaticWireGuardBackend: WireGuardBackend {
    private let userspace: UserspaceWireGuardBackend
    private let kernel: KernelWireGuardBackend

    /// Creates the backend pair; nothing is opened until the first request.
    /// - Parameter uapiDirectory: where userspace implementations put their sockets.
    public init(uapiDirectory: String = UserspaceWireGuardBackend.defaultDirectory) {
        userspace = UserspaceWireGuardBackend(directory: uapiDirectory)
        kernel = KernelWireGuardBackend()
    }

    /// Which backend would serve `interface` right now ("userspace" or "kernel"), for logs.
    public func backendName(for interface: String) -> String {
        userspace.hasSocket(for: interface) ? "userspace" : "kernel"
    }

    public func setPresharedKey(_ presharedKey: PresharedKey, peer: WireGuardPublicKey, interface: String) -> SetPskOutcome {
        guard WireGuardInterfaceName.isValid(interface) else { return .noSuchInterface }
        if userspace.hasSocket(for: interface) {
            return userspace.setPresharedKey(presharedKey, peer: peer, interface: interface)
        }
        return kernel.setPresharedKey(presharedKey, peer: peer, interface: interface)
    }
}
