// What `rp` writes into its WireGuard interface (`docs/components.md` §8.3 steps 3 and 6).

import RosenpassBroker
import RosenpassCrypto

/// The complete WireGuard configuration of `rp`'s interface: key, port and every peer.
///
/// Peers are created here, before the key exchange runs, each with a random preshared key: the
/// PSK broker only ever overwrites the PSK of a peer that exists (`docs/components.md` §2.1), and until
/// the first exchange nobody, not even the peer, knows the PSK, so no traffic flows without
/// Rosenpass (the whitepaper's random initial PSK).
struct WireGuardInterfaceSettings: Sendable {
    /// One peer.
    struct Peer: Sendable {
        /// The peer's WireGuard public key (its `wgpk`).
        var publicKey: WireGuardPublicKey
        /// A random key until Rosenpass delivers the first exchanged one.
        var presharedKey: PresharedKey
        /// The peer's WireGuard endpoint, if known (Rosenpass endpoint, port + 1).
        var endpoint: SocketAddress?
        /// Persistent keepalive in seconds.
        var persistentKeepalive: UInt16?
        /// The allowed IPs (networks, host bits clear).
        var allowedIPs: [IPPrefix]
    }

    /// The interface's private key (`wgsk`), 32 bytes.
    var privateKey: SecretBytes
    /// The UDP port; nil lets the implementation choose.
    var listenPort: UInt16?
    /// Every peer; any other peer the interface had is removed.
    var peers: [Peer]
}
