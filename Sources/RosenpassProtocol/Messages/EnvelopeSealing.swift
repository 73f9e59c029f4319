// Filling and checking the envelope's MAC and cookie fields (`docs/protocol.md` §3.7, §3.8).

import RosenpassCrypto

extension Envelope {
    /// The 16-byte MAC of `bytes`: `H(macKey, bytes[0 ..< macOffset])[0..16]`, where
    /// `macKey = H(lhash(ver, "mac"), spk_recipient)` is cached per key and version.
    static func mac(of bytes: [UInt8], macKey: [UInt8], version: ProtocolVersion) -> [UInt8] {
        let end = macOffset(bytes.count)
        let digest = macKey.withUnsafeBytes { key in
            bytes.withUnsafeBytes { version.hash(key: key, data: UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
        }
        return Array(digest[0..<FieldSize.mac])
    }

    /// Writes the MAC into its field.
    static func sealMAC(_ bytes: inout [UInt8], macKey: [UInt8], version: ProtocolVersion) {
        let value = mac(of: bytes, macKey: macKey, version: version)
        let offset = macOffset(bytes.count)
        bytes.replaceSubrange(offset..<(offset + FieldSize.mac), with: value)
    }

    /// Whether the MAC field verifies, compared in constant time.
    static func verifyMAC(_ bytes: [UInt8], macKey: [UInt8], version: ProtocolVersion) -> Bool {
        let offset = macOffset(bytes.count)
        return constantTimeEquals(mac(of: bytes, macKey: macKey, version: version), bytes[offset..<(offset + FieldSize.mac)])
    }

    /// The 16-byte cookie of `bytes` under `cookieValue`, always in the V03 tree:
    /// `H(H(lhash(V03, "cookie"), cookie_value), bytes[0 ..< cookieOffset])[0..16]`.
    static func cookie(of bytes: [UInt8], cookieValue: Secret) -> [UInt8] {
        let hash = KeyedHash.shake256
        let end = cookieOffset(bytes.count)
        var key = [UInt8](repeating: 0, count: 32)
        defer { secureZero(&key) }
        DomainConstants.cookies.cookie.value.withUnsafeBytes { domain in
            cookieValue.withUnsafeBytes { value in key.withUnsafeMutableBytes { hash.hash(key: domain, data: value, into: $0) } }
        }
        let digest = key.withUnsafeBytes { k in
            bytes.withUnsafeBytes { hash.hash(key: k, data: UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
        }
        return Array(digest[0..<FieldSize.cookie])
    }

    /// Writes the cookie into its field.
    static func sealCookie(_ bytes: inout [UInt8], cookieValue: Secret) {
        let value = cookie(of: bytes, cookieValue: cookieValue)
        let offset = cookieOffset(bytes.count)
        bytes.replaceSubrange(offset..<(offset + FieldSize.cookie), with: value)
    }

    /// The MAC field of a message.
    static func macField(_ bytes: [UInt8]) -> [UInt8] {
        let offset = macOffset(bytes.count)
        return Array(bytes[offset..<(offset + FieldSize.mac)])
    }

    /// The cookie field of a message.
    static func cookieField(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        let offset = cookieOffset(bytes.count)
        return bytes[offset..<(offset + FieldSize.cookie)]
    }
}
