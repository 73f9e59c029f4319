// Configuring a kernel WireGuard interface over generic netlink (`docs/components.md` §8.3 step 3).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassBroker
import RosenpassSystem

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
            let socket = try NetlinkSocket()
            guard let family = try socket.resolveFamily(Netlink.wireGuardFamilyName) else {
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
            type: family, flags: Netlink.flagRequest | Netlink.flagAck, sequence: sequence,
            command: Netlink.wgSetDevice, version: Netlink.wireGuardVersion,
            capacity: messageCapacity(settings))
        message.attribute(Netlink.wgDeviceIndex, u32: UInt32(bitPattern: index))
        settings.privateKey.withUnsafeBytes { message.attribute(Netlink.wgDevicePrivateKey, bytes: $0) }
        if let port = settings.listenPort { message.attribute(Netlink.wgDeviceListenPort, u16: port) }
        message.attribute(Netlink.wgDeviceFlags, u32: Netlink.wgDeviceFlagReplacePeers)
        message.beginNested(Netlink.wgDevicePeers)
        for (number, peer) in settings.peers.enumerated() {
            message.beginNested(UInt16(truncatingIfNeeded: number))
            message.attribute(Netlink.wgPeerPublicKey, bytes: peer.publicKey.rawBytes)
            peer.presharedKey.withUnsafeBytes { message.attribute(Netlink.wgPeerPresharedKey, bytes: $0) }
            message.attribute(Netlink.wgPeerFlags, u32: Netlink.wgPeerFlagReplaceAllowedIPs)
            if let endpoint = peer.endpoint {
                endpoint.withSockAddr { address, length in
                    message.attribute(Netlink.wgPeerEndpoint, bytes: UnsafeRawBufferPointer(start: address, count: Int(length)))
                }
            }
            if let keepalive = peer.persistentKeepalive {
                message.attribute(Netlink.wgPeerKeepalive, u16: keepalive)
            }
            message.beginNested(Netlink.wgPeerAllowedIPs)
            for (position, prefix) in peer.allowedIPs.enumerated() {
                message.beginNested(UInt16(truncatingIfNeeded: position))
                message.attribute(Netlink.wgAllowedIPFamily, u16: UInt16(prefix.family))
                message.attribute(Netlink.wgAllowedIPAddress, bytes: prefix.address)
                message.attribute(Netlink.wgAllowedIPMask, u8: prefix.length)
                message.endNested()
            }
            message.endNested()
            message.endNested()
        }
        message.endNested()
        return message
    }
}
