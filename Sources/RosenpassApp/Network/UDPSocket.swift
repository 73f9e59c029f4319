// Non-blocking UDP sockets for the daemon (`docs/components.md` §6.3).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassProtocol

/// A bound, non-blocking, close-on-exec UDP socket. Closed when released.
final class UDPSocket {
    /// The file descriptor.
    let fd: Int32
    /// The family it was created for: `AF_INET` or `AF_INET6`.
    let family: Int32
    /// The address it is bound to (with the port the kernel picked for port 0).
    private(set) var localAddress: SocketAddress

    /// Creates a socket bound to `address`.
    ///
    /// - Throws: ``AppError`` naming the address when the socket cannot be created or bound.
    /// The receive buffer the daemon asks for: room for a few thousand datagrams, so that a burst
    /// waits in the kernel rather than being dropped there (root may exceed `net.core.rmem_max`).
    static let receiveBufferSize: Int32 = 8 << 20

    init(binding address: SocketAddress) throws(AppError) {
        let fd = socket(address.family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", "UDP \(address)", errno: errno) }
        var size = Self.receiveBufferSize
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        let status = address.withSockAddr { bind(fd, $0, $1) }
        guard status == 0 else {
            let code = errno
            close(fd)
            throw .system("bind", "UDP \(address)", errno: code)
        }
        self.fd = fd
        family = address.family
        localAddress = address
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        if named == 0, let bound = withUnsafeBytes(of: &storage, { SocketAddress($0.baseAddress!, length: length) }) {
            localAddress = bound
        }
    }

    deinit { close(fd) }

    /// Whether this IPv6 socket accepts only IPv6 (so IPv4 needs a socket of its own).
    var isIPv6Only: Bool {
        guard family == AF_INET6 else { return false }
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &value, &length) == 0 else { return true }
        return value != 0
    }

    /// What ``receive(into:refusing:)`` got.
    enum Received {
        case datagram(count: Int, from: SocketAddress)
        /// `refusing` said no: nothing was built for this datagram.
        case refused
    }

    /// Receives one datagram into `buffer`. `refusing` sees the first byte, the length and the
    /// sender's ``SourceKey`` before anything is built for the datagram; when it says so the datagram
    /// is dropped right there (a flood costs little more than receiving it).
    ///
    /// - Returns: the datagram and its sender, ``Received/refused``, or nil when nothing is waiting.
    /// - Throws: ``AppError`` for errors other than "would block" and "interrupted".
    func receive(
        into buffer: UnsafeMutableRawBufferPointer, refusing: (_ first: UInt8, _ count: Int, _ source: SourceKey) -> Bool
    ) throws(AppError) -> Received? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            let count = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, buffer.baseAddress, buffer.count, 0, $0, &length)
                }
            }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
                // An ICMP error from an earlier send (e.g. port unreachable) is reported here; it is
                // not a problem of this socket.
                if errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH { continue }
                throw .system("recvfrom", "UDP \(localAddress)", errno: errno)
            }
            if count > 0, let source = withUnsafeBytes(of: &storage, { SocketAddress.sourceKey($0.baseAddress!) }),
                refusing(buffer[0], count, source)
            {
                return .refused
            }
            guard let sender = withUnsafeBytes(of: &storage, { SocketAddress($0.baseAddress!, length: length) }) else {
                continue  // not an IP sender; cannot answer it
            }
            return .datagram(count: count, from: sender)
        }
    }

    /// Sends `bytes` to `address`; returns the `errno` on failure.
    func send(_ bytes: [UInt8], to address: SocketAddress) -> Int32? {
        let target: SocketAddress
        if family == AF_INET6 && address.family == AF_INET {
            target = SocketAddress(ipv6: address.mappedIPv6, port: address.port)
        } else {
            target = address
        }
        guard target.family == family else { return EAFNOSUPPORT }
        while true {
            let sent = bytes.withUnsafeBytes { raw in
                target.withSockAddr { sendto(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), $0, $1) }
            }
            if sent >= 0 { return nil }
            if errno == EINTR { continue }
            return errno
        }
    }
}
