// Configuring a kernel WireGuard interface over generic netlink (`docs/components.md` §8.3 step 3).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassBroker

/// Constants of generic netlink's controller and of the WireGuard family (linux/genetlink.h,
/// linux/wireguard.h).
enum WireGuardGenericNetlink {
    static let controlFamily: UInt16 = 0x10  // GENL_ID_CTRL
    static let controlGetFamily: UInt8 = 3  // CTRL_CMD_GETFAMILY
    static let controlFamilyID: UInt16 = 1  // CTRL_ATTR_FAMILY_ID
    static let controlFamilyName: UInt16 = 2  // CTRL_ATTR_FAMILY_NAME
    static let genericHeaderSize = 4

    static let familyName = "wireguard"
    static let version: UInt8 = 1
    static let setDevice: UInt8 = 1  // WG_CMD_SET_DEVICE

    static let deviceIndex: UInt16 = 1  // WGDEVICE_A_IFINDEX
    static let devicePrivateKey: UInt16 = 3
    static let deviceFlags: UInt16 = 5
    static let deviceListenPort: UInt16 = 6
    static let devicePeers: UInt16 = 8
    static let deviceReplacePeers: UInt32 = 1  // WGDEVICE_F_REPLACE_PEERS

    static let peerPublicKey: UInt16 = 1
    static let peerPresharedKey: UInt16 = 2
    static let peerFlags: UInt16 = 3
    static let peerEndpoint: UInt16 = 4
    static let peerKeepalive: UInt16 = 5  // WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL
    static let peerAllowedIPs: UInt16 = 9
    static let peerReplaceAllowedIPs: UInt32 = 2  // WGPEER_F_REPLACE_ALLOWEDIPS

    static let allowedIPFamily: UInt16 = 1
    static let allowedIPAddress: UInt16 = 2
    static let allowedIPMask: UInt16 = 3
}

/// Kernel WireGuard's `WG_CMD_SET_DEVICE`, as `wg set` sends it.
enum WireGuardNetlink {
    /// Sets the private key, the listen port and the complete peer list (replacing any peers) of
    /// the interface with index `index`.
    ///
    /// - Throws: ``AppError`` when the family cannot be found or the kernel refuses.
    static func configure(index: Int32, name: String, _ settings: WireGuardInterfaceSettings) throws(AppError) {
        guard messageCapacity(settings) <= maximumMessageSize else {
            throw .runtime("\(settings.peers.count) peers with \(settings.peers.reduce(0) { $0 + $1.allowedIPs.count }) allowed IPs do not fit into one netlink message; use fewer")
        }
        do {
            let socket = try GenericNetlinkSocket()
            guard let family = try resolveFamily(socket) else {
                throw AppError.runtime("the kernel has no WireGuard generic netlink family")
            }
            let sequence = socket.nextSequence()
            let message = setDeviceMessage(family: family, sequence: sequence, index: index, settings)
            let code = try socket.transact(message, sequence: sequence, context: "WG_CMD_SET_DEVICE \(name)") { _ in }
            guard code == 0 else { throw AppError.system("WG_CMD_SET_DEVICE", "interface \(name)", errno: code) }
        } catch let error as AppError {
            throw error
        } catch {
            throw .runtime("configuring WireGuard on \(name): \(error)")
        }
    }

    /// The id of the `wireguard` generic netlink family, or nil when the kernel has none.
    private static func resolveFamily(_ socket: GenericNetlinkSocket) throws -> UInt16? {
        let sequence = socket.nextSequence()
        let request = NetlinkMessageBuilder(
            type: WireGuardGenericNetlink.controlFamily, flags: RTNetlink.flagRequest | RTNetlink.flagAck,
            sequence: sequence, command: WireGuardGenericNetlink.controlGetFamily, version: 1)
        request.attribute(WireGuardGenericNetlink.controlFamilyName, string: WireGuardGenericNetlink.familyName)
        var found: UInt16?
        let code = try socket.transact(request, sequence: sequence, context: "resolving the wireguard netlink family") { reply in
            guard reply.payload.count >= WireGuardGenericNetlink.genericHeaderSize else { return }
            for attribute in netlinkAttributes(UnsafeRawBufferPointer(rebasing: reply.payload[WireGuardGenericNetlink.genericHeaderSize...]))
            where attribute.type == WireGuardGenericNetlink.controlFamilyID && attribute.payload.count >= 2 {
                found = UInt16(littleEndian: attribute.payload.loadUnaligned(as: UInt16.self))
            }
        }
        if code == ENOENT { return nil }
        guard code == 0 else { throw AppError.system("CTRL_CMD_GETFAMILY", "wireguard netlink family", errno: code) }
        return found
    }

    /// Nested attribute lengths are 16-bit.
    static let maximumMessageSize = 65_535

    /// An upper bound of the size of ``setDeviceMessage(family:sequence:index:_:)``'s message.
    static func messageCapacity(_ settings: WireGuardInterfaceSettings) -> Int {
        // Headers and device attributes; per peer: key, PSK, flags, endpoint, keepalive, nests;
        // per allowed IP: family, address, mask and its nest.
        256 + settings.peers.reduce(0) { $0 + 200 + $1.allowedIPs.count * 40 }
    }

    /// The message: `WGDEVICE_A_IFINDEX`, `WGDEVICE_A_PRIVATE_KEY`, `WGDEVICE_A_LISTEN_PORT` (if
    /// set), `WGDEVICE_A_FLAGS = REPLACE_PEERS`, and per peer its public key, preshared key,
    /// `REPLACE_ALLOWEDIPS`, endpoint, keepalive and allowed IPs. The buffer is zeroed when released.
    static func setDeviceMessage(family: UInt16, sequence: UInt32, index: Int32, _ settings: WireGuardInterfaceSettings) -> NetlinkMessageBuilder {
        let message = NetlinkMessageBuilder(
            type: family, flags: RTNetlink.flagRequest | RTNetlink.flagAck, sequence: sequence,
            command: WireGuardGenericNetlink.setDevice, version: WireGuardGenericNetlink.version,
            capacity: messageCapacity(settings))
        message.attribute(WireGuardGenericNetlink.deviceIndex, u32: UInt32(bitPattern: index))
        settings.privateKey.withUnsafeBytes { message.attribute(WireGuardGenericNetlink.devicePrivateKey, bytes: $0) }
        if let port = settings.listenPort { message.attribute(WireGuardGenericNetlink.deviceListenPort, u16: port) }
        message.attribute(WireGuardGenericNetlink.deviceFlags, u32: WireGuardGenericNetlink.deviceReplacePeers)
        message.beginNested(WireGuardGenericNetlink.devicePeers)
        for (number, peer) in settings.peers.enumerated() {
            message.beginNested(UInt16(truncatingIfNeeded: number))
            message.attribute(WireGuardGenericNetlink.peerPublicKey, bytes: peer.publicKey.rawBytes)
            peer.presharedKey.withUnsafeBytes { message.attribute(WireGuardGenericNetlink.peerPresharedKey, bytes: $0) }
            message.attribute(WireGuardGenericNetlink.peerFlags, u32: WireGuardGenericNetlink.peerReplaceAllowedIPs)
            if let endpoint = peer.endpoint {
                endpoint.withSockAddr { address, length in
                    message.attribute(WireGuardGenericNetlink.peerEndpoint, bytes: UnsafeRawBufferPointer(start: address, count: Int(length)))
                }
            }
            if let keepalive = peer.persistentKeepalive {
                message.attribute(WireGuardGenericNetlink.peerKeepalive, u16: keepalive)
            }
            message.beginNested(WireGuardGenericNetlink.peerAllowedIPs)
            for (position, prefix) in peer.allowedIPs.enumerated() {
                message.beginNested(UInt16(truncatingIfNeeded: position))
                message.attribute(WireGuardGenericNetlink.allowedIPFamily, u16: UInt16(prefix.family))
                message.attribute(WireGuardGenericNetlink.allowedIPAddress, bytes: prefix.address)
                message.attribute(WireGuardGenericNetlink.allowedIPMask, u8: prefix.length)
                message.endNested()
            }
            message.endNested()
            message.endNested()
        }
        message.endNested()
        return message
    }
}
