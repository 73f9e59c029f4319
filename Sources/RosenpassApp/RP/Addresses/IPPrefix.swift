// IP addresses with a prefix length: `rp`'s `ip ADDR/CIDR` and `allowed-ips` (`docs/components.md` §8.3).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An IPv4 or IPv6 address with a prefix length, such as `10.0.0.1/24` or `fc00::/64`.
///
/// Used both for an interface address (where the bits after the prefix name the host) and for
/// allowed IPs and routes (where they must be zero; see ``network``).
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    /// `AF_INET` or `AF_INET6`.
    public let family: Int32
    /// 4 or 16 bytes, network order.
    public let address: [UInt8]
    /// The prefix length: 0...32 for IPv4, 0...128 for IPv6.
    public let length: UInt8

    /// Parses `ADDR/LENGTH`, or a bare `ADDR` meaning the single address (/32 or /128), as `ip` and
    /// `wg` accept them. Surrounding spaces are ignored; zones (`%eth0`) are not accepted.
    public init?(_ text: String) {
        let trimmed = text.trimmingSpaces
        let parts = trimmed.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let host = String(parts[0])
        var bytes = [UInt8](repeating: 0, count: 16)
        let family: Int32
        if bytes.withUnsafeMutableBytes({ inet_pton(AF_INET, host, $0.baseAddress) }) == 1 {
            family = AF_INET
            bytes = Array(bytes.prefix(4))
        } else if bytes.withUnsafeMutableBytes({ inet_pton(AF_INET6, host, $0.baseAddress) }) == 1 {
            family = AF_INET6
        } else {
            return nil
        }
        let maximum = family == AF_INET ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                let value = Int(digits), value <= maximum
            else { return nil }
            length = value
        }
        self.family = family
        self.address = bytes
        self.length = UInt8(length)
    }

    /// A prefix from its parts (`address` of 4 or 16 bytes).
    init(family: Int32, address: [UInt8], length: UInt8) {
        self.family = family
        self.address = address
        self.length = length
    }

    /// Parses a comma-separated list such as `"10.0.0.0/24, fc00::2"`. An empty or blank list is
    /// no prefix at all.
    ///
    /// - Returns: the prefixes, or the first entry that is not one.
    public static func list(_ text: String) -> Result<[IPPrefix], InvalidEntry> {
        guard !text.trimmingSpaces.isEmpty else { return .success([]) }
        var prefixes = [IPPrefix]()
        for entry in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let prefix = IPPrefix(String(entry)) else { return .failure(InvalidEntry(text: String(entry).trimmingSpaces)) }
            prefixes.append(prefix)
        }
        return .success(prefixes)
    }

    /// An entry of a list that is not an address or prefix.
    public struct InvalidEntry: Error, Equatable {
        /// The entry as written.
        public var text: String
    }

    /// The network: the address with every bit after the prefix cleared.
    public var network: IPPrefix {
        var masked = address
        for index in masked.indices {
            let bitsBefore = index * 8
            if bitsBefore >= Int(length) {
                masked[index] = 0
            } else if bitsBefore + 8 > Int(length) {
                masked[index] &= UInt8(truncatingIfNeeded: 0xff << (8 - (Int(length) - bitsBefore)))
            }
        }
        return IPPrefix(family: family, address: masked, length: length)
    }

    /// Whether bits after the prefix are set (so this names a host inside a network).
    public var hasHostBits: Bool { network.address != address }

    /// `10.0.0.1/24`, `fc00::1/64`.
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let text: String = address.withUnsafeBytes { raw in
            buffer.withUnsafeMutableBufferPointer { out in
                guard inet_ntop(family, raw.baseAddress, out.baseAddress, socklen_t(out.count)) != nil else { return "?" }
                return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return "\(text)/\(length)"
    }
}

extension String {
    /// The text without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
