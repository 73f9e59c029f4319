// rtnetlink for `rp`: create, raise and delete the WireGuard link, add its address and routes
// (`docs/components.md` §8.3 steps 2, 4, 6 and 7), without running `ip`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassSystem

/// The rtnetlink requests `rp` makes. Each one waits for the kernel's acknowledgement.
///
/// The message builders are separate (and internal) so tests can check them byte for byte.
final class RouteNetlink {
    private let socket: NetlinkSocket

    /// Opens an rtnetlink socket.
    init() throws(AppError) {
        do {
            socket = try NetlinkSocket(netlinkProtocol: RTNetlink.protocolRoute)
        } catch {
            throw .runtime("cannot open an rtnetlink socket: \(error)")
        }
    }

    /// Sends one request; returns 0 or the errno the kernel answered with.
    private func send(_ build: (UInt32) -> NetlinkMessageBuilder, context: String) throws(AppError) -> Int32 {
        let sequence = socket.nextSequence()
        do {
            return try socket.transact(build(sequence), sequence: sequence, context: context) { _ in }
        } catch {
            throw .runtime("\(context): \(error)")
        }
    }

    /// `ip link add NAME type wireguard`.
    /// - Returns: 0, or the errno: `EOPNOTSUPP` when the kernel has no WireGuard, `EEXIST` when the
    ///   name is taken, `EPERM` without `CAP_NET_ADMIN`.
    func createWireGuardLink(named name: String) throws(AppError) -> Int32 {
        try send({ Self.createWireGuardLinkMessage(name: name, sequence: $0) }, context: "creating the WireGuard interface \(name)")
    }

    /// `ip link set dev INDEX up`.
    func setUp(index: Int32, name: String) throws(AppError) {
        let code = try send({ Self.setUpMessage(index: index, sequence: $0) }, context: "bringing \(name) up")
        guard code == 0 else { throw .system("RTM_NEWLINK (set up)", "interface \(name)", errno: code) }
    }

    /// `ip link del dev INDEX`; a link that is already gone is not an error.
    func deleteLink(index: Int32, name: String) throws(AppError) {
        let code = try send({ Self.deleteLinkMessage(index: index, sequence: $0) }, context: "deleting \(name)")
        guard code == 0 || code == ENODEV else { throw .system("RTM_DELLINK", "interface \(name)", errno: code) }
    }

    /// `ip link del NAME`, for a link whose index is unknown; a link that is already gone is not an error.
    func deleteLink(named name: String) throws(AppError) {
        let code = try send({ Self.deleteLinkMessage(name: name, sequence: $0) }, context: "deleting \(name)")
        guard code == 0 || code == ENODEV else { throw .system("RTM_DELLINK", "interface \(name)", errno: code) }
    }

    /// `ip address add ADDRESS dev INDEX`.
    func addAddress(_ address: IPPrefix, index: Int32, name: String) throws(AppError) {
        let code = try send({ Self.addAddressMessage(address, index: index, sequence: $0) }, context: "adding \(address) to \(name)")
        guard code == 0 else { throw .system("RTM_NEWADDR", "address \(address) on \(name)", errno: code) }
    }

    /// `ip route replace PREFIX dev INDEX`.
    func replaceRoute(_ prefix: IPPrefix, index: Int32, name: String) throws(AppError) {
        let code = try send({ Self.replaceRouteMessage(prefix, index: index, sequence: $0) }, context: "routing \(prefix) to \(name)")
        guard code == 0 else { throw .system("RTM_NEWROUTE", "route \(prefix) dev \(name)", errno: code) }
    }

    // MARK: - Messages

    static func createWireGuardLinkMessage(name: String, sequence: UInt32) -> NetlinkMessageBuilder {
        let message = NetlinkMessageBuilder(
            type: RTNetlink.newLink,
            flags: Netlink.flagRequest | Netlink.flagAck | RTNetlink.flagCreate | RTNetlink.flagExclusive,
            sequence: sequence, familyHeader: RTNetlink.linkHeader())
        message.attribute(RTNetlink.linkName, string: name)
        message.beginNested(RTNetlink.linkInfo)
        message.attribute(RTNetlink.linkInfoKind, string: "wireguard")
        message.endNested()
        return message
    }

    static func setUpMessage(index: Int32, sequence: UInt32) -> NetlinkMessageBuilder {
        NetlinkMessageBuilder(
            type: RTNetlink.newLink, flags: Netlink.flagRequest | Netlink.flagAck, sequence: sequence,
            familyHeader: RTNetlink.linkHeader(index: index, flags: RTNetlink.interfaceUp, change: RTNetlink.interfaceUp))
    }

    static func deleteLinkMessage(index: Int32, sequence: UInt32) -> NetlinkMessageBuilder {
        NetlinkMessageBuilder(
            type: RTNetlink.deleteLink, flags: Netlink.flagRequest | Netlink.flagAck, sequence: sequence,
            familyHeader: RTNetlink.linkHeader(index: index))
    }

    static func deleteLinkMessage(name: String, sequence: UInt32) -> NetlinkMessageBuilder {
        let message = NetlinkMessageBuilder(
            type: RTNetlink.deleteLink, flags: Netlink.flagRequest | Netlink.flagAck, sequence: sequence,
            familyHeader: RTNetlink.linkHeader())
        message.attribute(RTNetlink.linkName, string: name)
        return message
    }

    static func addAddressMessage(_ address: IPPrefix, index: Int32, sequence: UInt32) -> NetlinkMessageBuilder {
        // struct ifaddrmsg: family, prefix length, flags, scope (universe), index.
        let header = [UInt8(address.family), address.length, 0, 0] + withUnsafeBytes(of: UInt32(bitPattern: index).littleEndian) { Array($0) }
        let message = NetlinkMessageBuilder(
            type: RTNetlink.newAddress,
            flags: Netlink.flagRequest | Netlink.flagAck | RTNetlink.flagCreate | RTNetlink.flagExclusive,
            sequence: sequence, familyHeader: header)
        message.attribute(RTNetlink.addressLocal, bytes: address.address)
        message.attribute(RTNetlink.addressAddress, bytes: address.address)
        return message
    }

    static func replaceRouteMessage(_ prefix: IPPrefix, index: Int32, sequence: UInt32) -> NetlinkMessageBuilder {
        // struct rtmsg: family, destination length, source length, tos, table, protocol, scope, type, flags.
        // The scope is what `ip route` picks for a route without gateway: link for IPv4, universe for IPv6.
        let scope = prefix.family == AF_INET6 ? RTNetlink.scopeUniverse : RTNetlink.scopeLink
        let header: [UInt8] = [
            UInt8(prefix.family), prefix.length, 0, 0, RTNetlink.tableMain, RTNetlink.protocolBoot, scope,
            RTNetlink.typeUnicast, 0, 0, 0, 0,
        ]
        let message = NetlinkMessageBuilder(
            type: RTNetlink.newRoute,
            flags: Netlink.flagRequest | Netlink.flagAck | RTNetlink.flagCreate | RTNetlink.flagReplace,
            sequence: sequence, familyHeader: header)
        message.attribute(RTNetlink.routeDestination, bytes: prefix.network.address)
        message.attribute(RTNetlink.routeOutputInterface, u32: UInt32(bitPattern: index))
        return message
    }
}
