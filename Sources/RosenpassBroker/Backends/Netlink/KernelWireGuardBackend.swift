// Kernel WireGuard over generic netlink: GET_DEVICE to find the peer, SET_DEVICE to set its PSK.

#if canImport(Glibc)
import Glibc
#endif

/// `struct sockaddr_nl` (linux/netlink.h), which the Glibc module does not export.
private struct NetlinkAddress {
    var nl_family = sa_family_t(AF_NETLINK)
    var nl_pad: UInt16 = 0
    var nl_pid: UInt32 = 0
    var nl_groups: UInt32 = 0
}

/// A netlink socket (generic netlink unless told otherwise) that sends one request at a time and
/// collects its answer. Package-visible so that `rp` (RosenpassApp) can use it for rtnetlink too.
package final class GenericNetlinkSocket {
    package let fd: Int32
    private var sequence: UInt32 = UInt32(truncatingIfNeeded: time(nil))
    private var receiveBuffer: UnsafeMutableRawBufferPointer

    /// Opens and binds the socket.
    /// - Parameter netlinkProtocol: `NETLINK_GENERIC` (16) by default, `NETLINK_ROUTE` (0) for rtnetlink.
    package init(netlinkProtocol: Int32 = 16 /* NETLINK_GENERIC */) throws {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), netlinkProtocol)
        guard fd >= 0 else { throw BrokerError.system("socket(AF_NETLINK)", "netlink protocol \(netlinkProtocol)", errno: errno) }
        var address = NetlinkAddress()
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<NetlinkAddress>.size))
            }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw BrokerError.system("bind", "generic netlink socket", errno: code)
        }
        POSIX.setSocketTimeouts(fd, seconds: 5)
        self.fd = fd
        receiveBuffer = .allocate(byteCount: 65536, alignment: 8)
        receiveBuffer.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        wipe(receiveBuffer)
        receiveBuffer.deallocate()
        close(fd)
    }

    package func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    /// The id of the generic netlink family `name` (`CTRL_CMD_GETFAMILY`), or nil when the kernel
    /// has no such family (its module is not loaded).
    ///
    /// - Throws: ``BrokerError`` when the kernel answers with another error or the socket fails.
    package func resolveFamily(_ name: String) throws -> UInt16? {
        let sequence = nextSequence()
        let request = NetlinkMessageBuilder(
            type: Netlink.controlFamily, flags: Netlink.flagRequest | Netlink.flagAck, sequence: sequence,
            command: Netlink.controlGetFamily, version: 1)
        request.attribute(Netlink.controlAttributeFamilyName, string: name)
        var found: UInt16?
        let code = try transact(request, sequence: sequence, context: "resolving the \(name) netlink family") { reply in
            guard reply.payload.count >= Netlink.genericHeaderSize else { return }
            let attributes = UnsafeRawBufferPointer(rebasing: reply.payload[Netlink.genericHeaderSize...])
            for attribute in netlinkAttributes(attributes)
            where attribute.type == Netlink.controlAttributeFamilyID && attribute.payload.count >= 2 {
                found = UInt16(littleEndian: attribute.payload.loadUnaligned(as: UInt16.self))
            }
        }
        if code == ENOENT { return nil }
        guard code == 0 else { throw BrokerError.system("CTRL_CMD_GETFAMILY", "\(name) netlink family", errno: code) }
        return found
    }

    /// Sends `message` and feeds every reply message with its sequence number to `handle` until the
    /// kernel acknowledges (or, for dumps, says done). Received bytes are zeroed after `handle` saw them:
    /// a WireGuard dump contains the interface's private key and every peer's preshared key.
    ///
    /// - Returns: 0 on success, or the positive errno the kernel answered with.
    package func transact(_ message: NetlinkMessageBuilder, sequence: UInt32, context: String,
                  handle: (NetlinkMessage) -> Void) throws -> Int32 {
        try message.withMessage { bytes in
            var address = NetlinkAddress()
            let sent = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<NetlinkAddress>.size))
                }
            }
            guard sent == bytes.count else { throw BrokerError.system("sendto", context, errno: errno) }
        }
        while true {
            // Peek at the size first so that a large dump is never truncated.
            let size = recv(fd, receiveBuffer.baseAddress, 0, Int32(MSG_PEEK | MSG_TRUNC))
            if size < 0 {
                if errno == EINTR { continue }
                throw BrokerError.system("recv", context, errno: errno)
            }
            if size > receiveBuffer.count {
                wipe(receiveBuffer)
                receiveBuffer.deallocate()
                receiveBuffer = .allocate(byteCount: size, alignment: 8)
                receiveBuffer.initializeMemory(as: UInt8.self, repeating: 0)
            }
            let got = recv(fd, receiveBuffer.baseAddress, receiveBuffer.count, 0)
            if got < 0 {
                if errno == EINTR { continue }
                throw BrokerError.system("recv", context, errno: errno)
            }
            defer { wipe(UnsafeMutableRawBufferPointer(rebasing: receiveBuffer[0..<got])) }
            for reply in NetlinkMessage.parse(UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<got]))
            where reply.sequence == sequence {
                switch reply.type {
                case Netlink.typeError:
                    guard reply.payload.count >= 4 else { throw BrokerError.backend("\(context): short netlink error message") }
                    let code = Int32(littleEndian: reply.payload.loadUnaligned(as: Int32.self))
                    return -code
                case Netlink.typeDone:
                    return 0
                default:
                    handle(reply)
                }
            }
        }
    }
}

/// Kernel WireGuard through generic netlink, family `wireguard` version 1 (docs/components.md §2.1).
///
/// For one request it sends `WG_CMD_GET_DEVICE` (a dump, the only form the kernel offers) to look for
/// the peer, then `WG_CMD_SET_DEVICE` with the interface name and one nested peer holding exactly the
/// public key, the flag `WGPEER_F_UPDATE_ONLY` and the preshared key: no device flags, keys, ports,
/// endpoints or allowed IPs. It needs `CAP_NET_ADMIN` in the interface's network namespace.
public final class KernelWireGuardBackend: WireGuardBackend {
    private var socket: GenericNetlinkSocket?
    private var familyID: UInt16?

    /// Creates the backend; the netlink socket is opened on first use and reopened after errors.
    public init() {}

    private func connect() throws -> (GenericNetlinkSocket, UInt16?) {
        if let socket, let familyID { return (socket, familyID) }
        let socket = try self.socket ?? GenericNetlinkSocket()
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
                     socket: GenericNetlinkSocket, family: UInt16) throws -> SetPskOutcome {
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
