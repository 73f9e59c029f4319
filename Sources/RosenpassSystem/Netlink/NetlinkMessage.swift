// Netlink and generic netlink message layout (linux/netlink.h, linux/genetlink.h).

/// Constants of netlink, generic netlink and the WireGuard family (linux/netlink.h, linux/genetlink.h,
/// linux/wireguard.h; docs/components.md §2.1, Appendix A): the one list of them, for the broker's
/// backend and for `rp`, which configures whole interfaces.
package enum Netlink {
    package static let headerSize = 16
    package static let genericHeaderSize = 4
    package static let attributeHeaderSize = 4

    package static let flagRequest: UInt16 = 0x1  // NLM_F_REQUEST
    package static let flagMulti: UInt16 = 0x2
    package static let flagAck: UInt16 = 0x4
    package static let flagDump: UInt16 = 0x300

    package static let typeError: UInt16 = 2
    package static let typeDone: UInt16 = 3

    package static let attributeNested: UInt16 = 0x8000
    package static let attributeTypeMask: UInt16 = 0x3fff

    package static let controlFamily: UInt16 = 0x10  // GENL_ID_CTRL
    package static let controlGetFamily: UInt8 = 3  // CTRL_CMD_GETFAMILY
    package static let controlAttributeFamilyID: UInt16 = 1
    package static let controlAttributeFamilyName: UInt16 = 2

    package static let wireGuardFamilyName = "wireguard"
    package static let wireGuardVersion: UInt8 = 1
    package static let wgGetDevice: UInt8 = 0  // WG_CMD_GET_DEVICE
    package static let wgSetDevice: UInt8 = 1  // WG_CMD_SET_DEVICE

    package static let wgDeviceIndex: UInt16 = 1  // WGDEVICE_A_IFINDEX
    package static let wgDeviceInterfaceName: UInt16 = 2
    package static let wgDevicePrivateKey: UInt16 = 3
    package static let wgDeviceFlags: UInt16 = 5
    package static let wgDeviceListenPort: UInt16 = 6
    package static let wgDevicePeers: UInt16 = 8
    package static let wgDeviceFlagReplacePeers: UInt32 = 1  // WGDEVICE_F_REPLACE_PEERS

    package static let wgPeerPublicKey: UInt16 = 1
    package static let wgPeerPresharedKey: UInt16 = 2
    package static let wgPeerFlags: UInt16 = 3
    package static let wgPeerEndpoint: UInt16 = 4
    package static let wgPeerKeepalive: UInt16 = 5  // WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL
    package static let wgPeerAllowedIPs: UInt16 = 9
    package static let wgPeerFlagReplaceAllowedIPs: UInt32 = 2  // WGPEER_F_REPLACE_ALLOWEDIPS
    package static let wgPeerFlagUpdateOnly: UInt32 = 4  // WGPEER_F_UPDATE_ONLY

    package static let wgAllowedIPFamily: UInt16 = 1
    package static let wgAllowedIPAddress: UInt16 = 2
    package static let wgAllowedIPMask: UInt16 = 3

    static func align(_ length: Int) -> Int { (length + 3) & ~3 }
}

/// Builds one netlink message in a buffer that is allocated once and zeroed when released, because
/// SET_DEVICE messages carry the preshared key. The broker's backend and `rp` (rtnetlink and whole
/// WireGuard devices) build their messages with it.
package final class NetlinkMessageBuilder {
    private let storage: UnsafeMutableRawBufferPointer
    package private(set) var length = 0
    private var nestStarts: [Int] = []

    /// A generic netlink message: the netlink header, then the generic header (`command`, `version`).
    package convenience init(type: UInt16, flags: UInt16, sequence: UInt32, command: UInt8, version: UInt8, capacity: Int = 1024) {
        self.init(type: type, flags: flags, sequence: sequence, familyHeader: [command, version, 0, 0], capacity: capacity)
    }

    /// A netlink message whose family header (e.g. rtnetlink's `struct ifinfomsg`) is `familyHeader`.
    package init(type: UInt16, flags: UInt16, sequence: UInt32, familyHeader: [UInt8], capacity: Int = 1024) {
        storage = .allocate(byteCount: capacity, alignment: 8)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        length = Netlink.headerSize
        storage.storeBytes(of: type.littleEndian, toByteOffset: 4, as: UInt16.self)
        storage.storeBytes(of: flags.littleEndian, toByteOffset: 6, as: UInt16.self)
        storage.storeBytes(of: sequence.littleEndian, toByteOffset: 8, as: UInt32.self)
        append(familyHeader)
        padToAlignment()
    }

    deinit {
        wipe(storage)
        storage.deallocate()
    }

    private func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    private func append(_ bytes: UnsafeRawBufferPointer) {
        precondition(length + bytes.count <= storage.count, "netlink message too large")
        UnsafeMutableRawBufferPointer(rebasing: storage[length..<(length + bytes.count)]).copyMemory(from: bytes)
        length += bytes.count
    }

    private func padToAlignment() { length = Netlink.align(length) }

    private func attributeHeader(type: UInt16, payloadLength: Int) {
        let total = UInt16(Netlink.attributeHeaderSize + payloadLength)
        append(withUnsafeBytes(of: total.littleEndian) { Array($0) } + withUnsafeBytes(of: type.littleEndian) { Array($0) })
    }

    /// Appends an attribute with raw bytes.
    package func attribute(_ type: UInt16, bytes: UnsafeRawBufferPointer) {
        attributeHeader(type: type, payloadLength: bytes.count)
        append(bytes)
        padToAlignment()
    }

    package func attribute(_ type: UInt16, bytes: [UInt8]) {
        bytes.withUnsafeBytes { attribute(type, bytes: $0) }
    }

    /// Appends a NUL-terminated string attribute.
    package func attribute(_ type: UInt16, string: String) {
        attribute(type, bytes: Array(string.utf8) + [0])
    }

    package func attribute(_ type: UInt16, u32 value: UInt32) {
        attribute(type, bytes: withUnsafeBytes(of: value.littleEndian) { Array($0) })
    }

    package func attribute(_ type: UInt16, u16 value: UInt16) {
        attribute(type, bytes: withUnsafeBytes(of: value.littleEndian) { Array($0) })
    }

    package func attribute(_ type: UInt16, u8 value: UInt8) {
        attribute(type, bytes: [value])
    }

    /// Opens a nested attribute; close it with ``endNested()``.
    package func beginNested(_ type: UInt16) {
        nestStarts.append(length)
        attributeHeader(type: type | Netlink.attributeNested, payloadLength: 0)
    }

    package func endNested() {
        let start = nestStarts.removeLast()
        storage.storeBytes(of: UInt16(length - start).littleEndian, toByteOffset: start, as: UInt16.self)
    }

    /// The finished message (its length field filled in).
    package func withMessage<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        storage.storeBytes(of: UInt32(length).littleEndian, toByteOffset: 0, as: UInt32.self)
        return try body(UnsafeRawBufferPointer(rebasing: storage[0..<length]))
    }
}

/// A received netlink message: header fields and the bytes after the header.
package struct NetlinkMessage {
    package var type: UInt16
    package var flags: UInt16
    package var sequence: UInt32
    package var payload: UnsafeRawBufferPointer

    /// Splits one datagram into messages. Stops at the first malformed length.
    package static func parse(_ datagram: UnsafeRawBufferPointer) -> [NetlinkMessage] {
        var messages: [NetlinkMessage] = []
        var offset = 0
        while offset + Netlink.headerSize <= datagram.count {
            let length = Int(UInt32(littleEndian: datagram.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            guard length >= Netlink.headerSize, offset + length <= datagram.count else { break }
            messages.append(NetlinkMessage(
                type: UInt16(littleEndian: datagram.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self)),
                flags: UInt16(littleEndian: datagram.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self)),
                sequence: UInt32(littleEndian: datagram.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)),
                payload: UnsafeRawBufferPointer(rebasing: datagram[(offset + Netlink.headerSize)..<(offset + length)])))
            offset += Netlink.align(length)
        }
        return messages
    }
}

/// Iterates the attributes (type, payload) in `bytes`.
package func netlinkAttributes(_ bytes: UnsafeRawBufferPointer) -> [(type: UInt16, payload: UnsafeRawBufferPointer)] {
    var result: [(UInt16, UnsafeRawBufferPointer)] = []
    var offset = 0
    while offset + Netlink.attributeHeaderSize <= bytes.count {
        let length = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
        let type = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self))
        guard length >= Netlink.attributeHeaderSize, offset + length <= bytes.count else { break }
        result.append((type & Netlink.attributeTypeMask,
                       UnsafeRawBufferPointer(rebasing: bytes[(offset + Netlink.attributeHeaderSize)..<(offset + length)])))
        offset += Netlink.align(length)
    }
    return result
}
