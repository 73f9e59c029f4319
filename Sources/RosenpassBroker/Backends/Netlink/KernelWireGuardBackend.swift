// Kernel WireGuard over generic netlink: GET_DEVICE to find the peer, SET_DEVICE to set its PSK.

#if canImport(Glibc)
import Glibc
#endif
import RosenpassSystem

/// Kernel WireGuard through generic netlink, family `wireguard` version 1 (docs/components.md §2.1).
///
/// For one request it sends `WG_CMD_GET_DEVICE` (a dump, the only form the kernel offers) to look for
/// the peer, then `WG_CMD_SET_DEVICE` with the interface name and one nested peer holding exactly the
/// public key, the flag `WGPEER_F_UPDATE_ONLY` and the preshared key: no device flags, keys, ports,
/// endpoints or allowed IPs. It needs `CAP_NET_ADMIN` in the interface's network namespace.
public final class KernelWireGuardBackend: WireGuardBackend {
    private var socket: NetlinkSocket?
    private var familyID: UInt16?

    /// Creates the backend; the netlink socket is opened on first use and reopened after errors.
    public init() {}

    private func connect() throws -> (NetlinkSocket, UInt16?) {
        if let socket, let familyID { return (socket, familyID) }
        let socket = try self.socket ?? NetlinkSocket()
        self.socket = socket
        // nil: no wireguard module, so no kernel interfaces at all.
        familyID = try socket.resolveFamily(Netlink.wireGuardFamilyName)
        return (socket, familyID)
    }

    public func setPresharedKey(_ presharedKey: PresharedKey, peer: WireGuardPublicKey, interface: String) -> SetPskOutcome {
        guard WireGuardInterfaceName.isValid(interface) else { return .noSuchInterface }
        do {
            let (socket, family) = try connect()
            guard let family else { return .noSuchInterface }
            return try set(presharedKey, peer: peer, interface: interface, socket: socket, family: family)
        } catch {
            // Start over with a fresh socket next time: a timeout may have left replies queued.
            socket = nil
            familyID = nil
            return .failed("kernel WireGuard \(interface): \(error)")
        }
    }

    private func set(_ presharedKey: PresharedKey, peer: WireGuardPublicKey, interface: String,
                     socket: NetlinkSocket, family: UInt16) throws -> SetPskOutcome {
        // 1. Does the peer exist? (GET_DEVICE dump; the kernel may split peers over several messages.)
        let getSequence = socket.nextSequence()
        let get = Self.getDeviceMessage(family: family, sequence: getSequence, interface: interface)
        var peerFound = false
        let getCode = try socket.transact(get, sequence: getSequence, context: "WG_CMD_GET_DEVICE \(interface)") { reply in
            if Self.deviceReply(reply.payload, containsPeer: peer) { peerFound = true }
        }
        switch getCode {
        case 0: break
        case ENODEV, EOPNOTSUPP: return .noSuchInterface  // no such link, or a link that is not kernel WireGuard
        default: throw BrokerError.system("WG_CMD_GET_DEVICE", "interface \(interface)", errno: getCode)
        }
        guard peerFound else { return .noSuchPeer }

        // 2. Overwrite that peer's preshared key, and nothing else.
        let setSequence = socket.nextSequence()
        let set = Self.setDeviceMessage(family: family, sequence: setSequence, interface: interface, peer: peer, presharedKey: presharedKey)
        let setCode = try socket.transact(set, sequence: setSequence, context: "WG_CMD_SET_DEVICE \(interface)") { _ in }
        switch setCode {
        case 0: return .installed
        case ENODEV: return .noSuchInterface
        default: throw BrokerError.system("WG_CMD_SET_DEVICE", "interface \(interface)", errno: setCode)
        }
    }

    // MARK: - Messages (separate so tests can check them byte for byte)

    /// `WG_CMD_GET_DEVICE` as a dump for `interface` (the kernel offers no other form).
    static func getDeviceMessage(family: UInt16, sequence: UInt32, interface: String) -> NetlinkMessageBuilder {
        let get = NetlinkMessageBuilder(type: family, flags: Netlink.flagRequest | Netlink.flagAck | Netlink.flagDump,
                                        sequence: sequence, command: Netlink.wgGetDevice, version: Netlink.wireGuardVersion)
        get.attribute(Netlink.wgDeviceInterfaceName, string: interface)
        return get
    }

    /// `WG_CMD_SET_DEVICE` with the interface name and one nested peer holding exactly the public key,
    /// `WGPEER_F_UPDATE_ONLY` and the preshared key (docs/components.md §2.1 step 3).
    static func setDeviceMessage(family: UInt16, sequence: UInt32, interface: String, peer: WireGuardPublicKey,
                                 presharedKey: PresharedKey) -> NetlinkMessageBuilder {
        let set = NetlinkMessageBuilder(type: family, flags: Netlink.flagRequest | Netlink.flagAck,
                                        sequence: sequence, command: Netlink.wgSetDevice, version: Netlink.wireGuardVersion)
        set.attribute(Netlink.wgDeviceInterfaceName, string: interface)
        set.beginNested(Netlink.wgDevicePeers)
        set.beginNested(0)
        set.attribute(Netlink.wgPeerPublicKey, bytes: peer.rawBytes)
        set.attribute(Netlink.wgPeerFlags, u32: Netlink.wgPeerFlagUpdateOnly)
        presharedKey.withUnsafeBytes { set.attribute(Netlink.wgPeerPresharedKey, bytes: $0) }
        set.endNested()
        set.endNested()
        return set
    }

    /// Whether one GET_DEVICE reply message (generic header and attributes) lists `peer`.
    static func deviceReply(_ payload: UnsafeRawBufferPointer, containsPeer peer: WireGuardPublicKey) -> Bool {
        guard payload.count >= Netlink.genericHeaderSize else { return false }
        let attributes = UnsafeRawBufferPointer(rebasing: payload[Netlink.genericHeaderSize...])
        for device in netlinkAttributes(attributes) where device.type == Netlink.wgDevicePeers {
            for entry in netlinkAttributes(device.payload) {
                for field in netlinkAttributes(entry.payload)
                where field.type == Netlink.wgPeerPublicKey && field.payload.elementsEqual(peer.rawBytes) {
                    return true
                }
            }
        }
        return false
    }
}
