// A netlink socket: one request at a time, its answer collected, received bytes zeroed.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `struct sockaddr_nl` (linux/netlink.h), which the Glibc module does not export.
private struct NetlinkAddress {
    var nl_family = sa_family_t(AF_NETLINK)
    var nl_pad: UInt16 = 0
    var nl_pid: UInt32 = 0
    var nl_groups: UInt32 = 0
}

/// A netlink socket (generic netlink unless told otherwise) that sends one request at a time and
/// collects its answer: the broker's WireGuard backend uses it, and `rp` for rtnetlink and for
/// configuring whole WireGuard interfaces.
package final class NetlinkSocket {
    package let fd: Int32
    private var sequence: UInt32 = UInt32(truncatingIfNeeded: time(nil))
    private var receiveBuffer: UnsafeMutableRawBufferPointer

    /// Opens and binds the socket.
    /// - Parameter netlinkProtocol: `NETLINK_GENERIC` (16) by default, `NETLINK_ROUTE` (0) for rtnetlink.
    package init(netlinkProtocol: Int32 = 16 /* NETLINK_GENERIC */) throws {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), netlinkProtocol)
        guard fd >= 0 else { throw SystemError.failed("socket(AF_NETLINK)", "netlink protocol \(netlinkProtocol)", errno: errno) }
        var address = NetlinkAddress()
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<NetlinkAddress>.size))
            }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw SystemError.failed("bind", "netlink protocol \(netlinkProtocol)", errno: code)
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
    /// - Throws: ``SystemError`` when the kernel answers with another error or the socket fails.
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
        guard code == 0 else { throw SystemError.failed("CTRL_CMD_GETFAMILY", "\(name) netlink family", errno: code) }
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
            guard sent == bytes.count else { throw SystemError.failed("sendto", context, errno: errno) }
        }
        while true {
            // Peek at the size first so that a large dump is never truncated.
            let size = recv(fd, receiveBuffer.baseAddress, 0, Int32(MSG_PEEK | MSG_TRUNC))
            if size < 0 {
                if errno == EINTR { continue }
                throw SystemError.failed("recv", context, errno: errno)
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
                throw SystemError.failed("recv", context, errno: errno)
            }
            defer { wipe(UnsafeMutableRawBufferPointer(rebasing: receiveBuffer[0..<got])) }
            for reply in NetlinkMessage.parse(UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<got]))
            where reply.sequence == sequence {
                switch reply.type {
                case Netlink.typeError:
                    guard reply.payload.count >= 4 else { throw SystemError.unusable("\(context): short netlink error message") }
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
