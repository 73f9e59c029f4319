// Identifiers of WireGuard objects: a peer's public key and an interface name.

/// A WireGuard peer's Curve25519 public key: 32 raw bytes, written as base64 by `wg` (docs/components.md §1.3).
public struct WireGuardPublicKey: Hashable, Sendable, CustomStringConvertible {
    /// The 32 raw bytes.
    public let rawBytes: [UInt8]

    /// The key from 32 raw bytes, or `nil` for any other length.
    public init?(_ rawBytes: [UInt8]) {
        guard rawBytes.count == BrokerWire.keySize else { return nil }
        self.rawBytes = rawBytes
    }

    /// The key from its 44-character padded base64 form, as `wg show` prints it.
    public init?(base64 text: String) {
        guard let bytes = Base64.decode(text), bytes.count == BrokerWire.keySize,
              Base64.encode(bytes) == text else { return nil }
        self.rawBytes = bytes
    }

    /// The padded base64 form (44 characters).
    public var base64: String { Base64.encode(rawBytes) }

    /// Lower-case hex, as the WireGuard UAPI writes keys.
    public var hex: String { HexText.encode(rawBytes) }

    /// The base64 form; public keys are not secret.
    public var description: String { base64 }
}

/// Checks on interface names before they reach netlink or a socket path.
public enum WireGuardInterfaceName {
    /// Linux's limit: IFNAMSIZ (16) minus the terminating zero.
    public static let maximumLength = 15

    /// Whether `name` can be a Linux interface name: 1...15 bytes, not `.` or `..`, and no `/`, `:`,
    /// whitespace or control characters. The broker refuses other names before it builds a UAPI
    /// socket path from them, so a name such as `../x` can never point outside `/var/run/wireguard`.
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...maximumLength).contains(bytes.count), name != ".", name != ".." else { return false }
        return bytes.allSatisfy { byte in
            byte > 0x20 && byte != 0x7f && byte != UInt8(ascii: "/") && byte != UInt8(ascii: ":")
        }
    }
}

/// Standard base64 with padding (RFC 4648 §4), for WireGuard keys in logs, policies and options.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        var index = 0
        while index < bytes.count {
            let b0 = UInt32(bytes[index])
            let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
            let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
            let word = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(word >> 18 & 63)])
            out.append(alphabet[Int(word >> 12 & 63)])
            out.append(index + 1 < bytes.count ? alphabet[Int(word >> 6 & 63)] : UInt8(ascii: "="))
            out.append(index + 2 < bytes.count ? alphabet[Int(word & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out = [UInt8]()
        var index = 0
        while index < chars.count {
            var word: UInt32 = 0
            var padding = 0
            for offset in 0..<4 {
                let char = chars[index + offset]
                let value: UInt32
                if char == UInt8(ascii: "=") {
                    guard index + 4 == chars.count, offset >= 2 else { return nil }
                    padding += 1
                    value = 0
                } else {
                    guard padding == 0, let position = alphabet.firstIndex(of: char) else { return nil }
                    value = UInt32(position)
                }
                word = word << 6 | value
            }
            out.append(UInt8(word >> 16 & 0xff))
            if padding < 2 { out.append(UInt8(word >> 8 & 0xff)) }
            if padding < 1 { out.append(UInt8(word & 0xff)) }
            index += 4
        }
        return out
    }
}

/// Lower-case hex for UAPI keys.
enum HexText {
    private static let digits = Array("0123456789abcdef".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes the hex of `bytes` into `out` (2 × count bytes) without an intermediate string.
    static func encode(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        for (index, byte) in bytes.enumerated() {
            out[2 * index] = digits[Int(byte >> 4)]
            out[2 * index + 1] = digits[Int(byte & 15)]
        }
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func value(_ char: UInt8) -> UInt8? {
            switch char {
            case 48...57: return char - 48
            case 97...102: return char - 87
            case 65...70: return char - 55
            default: return nil
            }
        }
        var out = [UInt8]()
        var index = 0
        while index < chars.count {
            guard let high = value(chars[index]), let low = value(chars[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
