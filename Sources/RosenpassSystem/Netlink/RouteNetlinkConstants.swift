// rtnetlink message layout (linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h), for `rp`'s
// interface set-up. The socket is ``NetlinkSocket`` with `RTNetlink.protocolRoute`.

/// Constants of rtnetlink (linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h).
package enum RTNetlink {
    package static let protocolRoute: Int32 = 0  // NETLINK_ROUTE

    package static let flagReplace: UInt16 = 0x100
    package static let flagExclusive: UInt16 = 0x200
    package static let flagCreate: UInt16 = 0x400

    package static let newLink: UInt16 = 16
    package static let deleteLink: UInt16 = 17
    package static let newAddress: UInt16 = 20
    package static let newRoute: UInt16 = 24

    package static let linkName: UInt16 = 3  // IFLA_IFNAME
    package static let linkInfo: UInt16 = 18  // IFLA_LINKINFO
    package static let linkInfoKind: UInt16 = 1  // IFLA_INFO_KIND
    package static let interfaceUp: UInt32 = 0x1  // IFF_UP

    package static let addressAddress: UInt16 = 1  // IFA_ADDRESS
    package static let addressLocal: UInt16 = 2  // IFA_LOCAL

    package static let routeDestination: UInt16 = 1  // RTA_DST
    package static let routeOutputInterface: UInt16 = 4  // RTA_OIF
    package static let tableMain: UInt8 = 254  // RT_TABLE_MAIN
    package static let protocolBoot: UInt8 = 3  // RTPROT_BOOT, what `ip route` uses
    package static let scopeLink: UInt8 = 253  // RT_SCOPE_LINK
    package static let scopeUniverse: UInt8 = 0  // RT_SCOPE_UNIVERSE
    package static let typeUnicast: UInt8 = 1  // RTN_UNICAST

    /// `struct ifinfomsg`: family, padding, type, index, flags, change (16 bytes).
    package static func linkHeader(index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) -> [UInt8] {
        [0, 0, 0, 0] + withUnsafeBytes(of: index.littleEndian) { Array($0) }
            + withUnsafeBytes(of: flags.littleEndian) { Array($0) } + withUnsafeBytes(of: change.littleEndian) { Array($0) }
    }
}
