// IPv4 and IPv6 UDP socket addresses, and resolving `host:port` (`docs/components.md` §3.3, §4.2, §6.3).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassProtocol

/// An IPv4 or IPv6 socket address.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address family: `AF_INET` or `AF_INET6`.
    public let family: Int32
    /// The address: 4 or 16 bytes, network order.
    public let address: [UInt8]
    /// The port.
    public let port: UInt16
    /// The IPv6 scope id (0 for IPv4 and global addresses).
    public let scopeID: UInt32

    /// An IPv4 address.
    public init(ipv4 address: [UInt8], port: UInt16) {
        precondition(address.count == 4)
        family = AF_INET
        self.address = address
        self.port = port
        scopeID = 0
    }

    /// An IPv6 address.
    public init(ipv6 address: [UInt8], port: UInt16, scopeID: UInt32 = 0) {
        precondition(address.count == 16)
        family = AF_INET6
        self.address = address
        self.port = port
        self.scopeID = scopeID
    }

    /// Parses an IP socket-address literal as Rust's `SocketAddr` does: `1.2.3.4:5`, `[::1]:5`, or
    /// `[fe80::1%eth0]:5`. Host names are not literals.
    public init?(literal text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]),
            text[text.index(after: colon)...].allSatisfy(\.isASCII)
        else { return nil }
        let host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") {
            var inner = String(host.dropFirst().dropLast())
            var scope: UInt32 = 0
            if let percent = inner.firstIndex(of: "%") {
                let name = String(inner[inner.index(after: percent)...])
                if let number = UInt32(name) {
                    scope = number
                } else {
                    scope = if_nametoindex(name)
                    guard scope != 0 else { return nil }
                }
                inner = String(inner[..<percent])
            }
            guard let bytes = Self.parse(inner, family: AF_INET6, count: 16) else { return nil }
            self.init(ipv6: bytes, port: port, scopeID: scope)
        } else {
            guard let bytes = Self.parse(String(host), family: AF_INET, count: 4) else { return nil }
            self.init(ipv4: bytes, port: port)
        }
    }

    /// Reads a `sockaddr` filled in by the kernel (`recvfrom`, `getaddrinfo`, `getsockname`).
    init?(_ storage: UnsafeRawPointer, length: socklen_t) {
        let family = Int32(storage.load(as: sockaddr.self).sa_family)
        switch family {
        case AF_INET where length >= MemoryLayout<sockaddr_in>.size:
            let v4 = storage.load(as: sockaddr_in.self)
            let raw = withUnsafeBytes(of: v4.sin_addr) { Array($0) }
            self.init(ipv4: raw, port: UInt16(bigEndian: v4.sin_port))
        case AF_INET6 where length >= MemoryLayout<sockaddr_in6>.size:
            let v6 = storage.load(as: sockaddr_in6.self)
            let raw = withUnsafeBytes(of: v6.sin6_addr) { Array($0) }
            self.init(ipv6: raw, port: UInt16(bigEndian: v6.sin6_port), scopeID: v6.sin6_scope_id)
        default:
            return nil
        }
    }

    private static func parse(_ text: String, family: Int32, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let ok = buffer.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return ok == 1 ? Array(buffer.prefix(count)) : nil
    }

    /// The same address with another port.
    public func with(port: UInt16) -> SocketAddress {
        family == AF_INET ? SocketAddress(ipv4: address, port: port) : SocketAddress(ipv6: address, port: port, scopeID: scopeID)
    }

    /// `0.0.0.0:port` or `[::]:port`.
    public static func any(family: Int32, port: UInt16 = 0) -> SocketAddress {
        family == AF_INET ? SocketAddress(ipv4: [0, 0, 0, 0], port: port) : SocketAddress(ipv6: [UInt8](repeating: 0, count: 16), port: port)
    }

    /// Calls `body` with a `sockaddr` for this address and its length.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        if family == AF_INET {
            var v4 = sockaddr_in()
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &v4.sin_addr) { $0.copyBytes(from: address) }
            return try withUnsafePointer(to: &v4) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var v6 = sockaddr_in6()
        v6.sin6_family = sa_family_t(AF_INET6)
        v6.sin6_port = port.bigEndian
        v6.sin6_scope_id = scopeID
        withUnsafeMutableBytes(of: &v6.sin6_addr) { $0.copyBytes(from: address) }
        return try withUnsafePointer(to: &v6) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }

    /// The address as an IPv6 address (IPv4 mapped as `::ffff:a.b.c.d`).
    var mappedIPv6: [UInt8] {
        family == AF_INET6 ? address : [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + address
    }

    /// The same host and port with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how a dual-stack
    /// socket reports an IPv4 sender) written as IPv4, so both spellings compare equal.
    var unmapped: SocketAddress {
        guard family == AF_INET6, scopeID == 0, address.prefix(12).elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]) else {
            return self
        }
        return SocketAddress(ipv4: Array(address.suffix(4)), port: port)
    }

    /// The sender as a unit of the responder's per-source budget under load: the IPv4 address, or
    /// the /64 prefix of an IPv6 address (one host usually holds a whole /64), never the port.
    var sourceKey: SourceKey {
        let plain = unmapped
        return plain.address.withUnsafeBytes { raw in
            plain.family == AF_INET
                ? SourceKey(ipv4: UInt32(bigEndian: raw.loadUnaligned(as: UInt32.self)))
                : SourceKey(ipv6Prefix: UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)))
        }
    }

    /// ``sourceKey`` straight from a `sockaddr` the kernel filled in, without building the address.
    static func sourceKey(_ storage: UnsafeRawPointer) -> SourceKey? {
        switch Int32(storage.load(as: sockaddr.self).sa_family) {
        case AF_INET:
            return SourceKey(ipv4: UInt32(bigEndian: storage.load(as: sockaddr_in.self).sin_addr.s_addr))
        case AF_INET6:
            let address = storage.load(as: sockaddr_in6.self).sin6_addr
            return withUnsafeBytes(of: address) { raw in
                // An IPv4 sender on a dual-stack socket (::ffff:a.b.c.d) counts as that IPv4 address.
                if raw.prefix(12).elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]) {
                    return SourceKey(ipv4: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
                }
                return SourceKey(ipv6Prefix: UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)))
            }
        default:
            return nil
        }
    }

    /// A stable byte encoding of the sender, binding DoS cookies to it (`docs/protocol.md` §6.3): the
    /// socket index (8 bytes), the address as IPv6 (16), the port (2) and the scope id (4), big-endian.
    func hostID(socketIndex: Int) -> [UInt8] {
        var out = withUnsafeBytes(of: UInt64(socketIndex).bigEndian) { Array($0) }
        out += mappedIPv6
        out += withUnsafeBytes(of: port.bigEndian) { Array($0) }
        out += withUnsafeBytes(of: scopeID.bigEndian) { Array($0) }
        return out
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let text: String = address.withUnsafeBytes { raw in
            buffer.withUnsafeMutableBufferPointer { out in
                guard inet_ntop(family, raw.baseAddress, out.baseAddress, socklen_t(out.count)) != nil else { return "?" }
                return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        if family == AF_INET { return "\(text):\(port)" }
        return scopeID == 0 ? "[\(text)]:\(port)" : "[\(text)%\(scopeID)]:\(port)"
    }
}

/// A `host:port` string as Rust's `ToSocketAddrs` takes it: an IP socket-address literal, or
/// otherwise the text before the **last** `:` as a host name (brackets allowed) and the rest as
/// the port. So `::1:9999`, `localhost:9999` and `[::1]:9999` all work.
public struct HostAndPort: Hashable, Sendable, CustomStringConvertible {
    /// The host: an IP address or a name.
    public let host: String
    /// The port.
    public let port: UInt16
    /// The original text.
    public let text: String

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let portText = text[text.index(after: colon)...]
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = UInt16(portText) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
        self.text = text
    }

    public var description: String { text }

    /// Whether the host is an IP address (nothing to look up again), rather than a name.
    public var isLiteral: Bool { SocketAddress(literal: text) != nil }

    /// Every address the host resolves to, for UDP (literals first, then `getaddrinfo`).
    ///
    /// - Throws: ``AppError`` naming the endpoint when it does not resolve.
    public func resolve() throws(AppError) -> [SocketAddress] {
        if let literal = SocketAddress(literal: text) { return [literal] }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_UDP)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0 else {
            throw .runtime("endpoint \"\(text)\" does not resolve: \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(result) }
        var addresses = [SocketAddress]()
        var cursor = result
        while let info = cursor {
            if let raw = info.pointee.ai_addr, let address = SocketAddress(UnsafeRawPointer(raw), length: info.pointee.ai_addrlen),
                !addresses.contains(address)
            {
                addresses.append(address)
            }
            cursor = info.pointee.ai_next
        }
        guard !addresses.isEmpty else { throw .runtime("endpoint \"\(text)\" resolves to no IP address") }
        return addresses
    }
}
