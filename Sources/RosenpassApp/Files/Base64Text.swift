// Standard base64 with padding for key files (`docs/components.md` §5), working in wiped buffers.

import RosenpassCrypto

/// Standard base64 (RFC 4648 §4, `+/`, `=` padding) as the reference's key files use it.
///
/// Decoding goes straight into ``SecretBytes`` and encoding into a caller-provided buffer, so a
/// key never sits in an ordinary `String` or `Array` that outlives its use.
enum Base64Text {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The length of the encoding of `count` bytes.
    static func encodedCount(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    /// Writes the encoding of `bytes` into `out`, which must hold ``encodedCount(_:)`` bytes.
    static func encode(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= encodedCount(bytes.count))
        var o = 0
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let word = b0 << 16 | b1 << 8 | b2
            out[o] = alphabet[Int(word >> 18 & 63)]
            out[o + 1] = alphabet[Int(word >> 12 & 63)]
            out[o + 2] = i + 1 < bytes.count ? alphabet[Int(word >> 6 & 63)] : UInt8(ascii: "=")
            out[o + 3] = i + 2 < bytes.count ? alphabet[Int(word & 63)] : UInt8(ascii: "=")
            i += 3
            o += 4
        }
    }

    /// The encoding of public bytes, as a string.
    static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: encodedCount(bytes.count))
        bytes.withUnsafeBytes { raw in out.withUnsafeMutableBytes { encode(raw, into: $0) } }
        return String(decoding: out, as: UTF8.self)
    }

    private static func value(_ char: UInt8) -> UInt32? {
        switch char {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(char - 65)
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(char - 71)
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(char + 4)
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }

    /// Whether `text` is exactly a 32-byte key in canonical padded base64 (44 characters), as
    /// `wg pubkey` prints a WireGuard public key.
    static func isKey(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 44 else { return false }
        return bytes.withUnsafeBytes { decode($0)?.count == 32 }
    }

    /// Decodes base64 text, tolerating one trailing line ending (`\n`, `\r` or `\r\n`) as the
    /// reference does, so `wg genpsk` output is accepted.
    ///
    /// - Returns: the decoded bytes, or nil when the text is not padded standard base64 (the
    ///   text is not echoed anywhere, since it may be a key).
    static func decode(_ text: UnsafeRawBufferPointer) -> SecretBytes? {
        var length = text.count
        if length >= 2 && text[length - 2] == UInt8(ascii: "\r") && text[length - 1] == UInt8(ascii: "\n") {
            length -= 2
        } else if length >= 1 && (text[length - 1] == UInt8(ascii: "\n") || text[length - 1] == UInt8(ascii: "\r")) {
            length -= 1
        }
        guard length % 4 == 0 else { return nil }
        var padding = 0
        if length >= 1 && text[length - 1] == UInt8(ascii: "=") { padding += 1 }
        if length >= 2 && text[length - 2] == UInt8(ascii: "=") { padding += 1 }
        var out = SecretBytes(zeros: length / 4 * 3 - padding)
        let valid = out.withUnsafeMutableBytes { out -> Bool in
            var o = 0
            var i = 0
            while i < length {
                var word: UInt32 = 0
                for k in 0..<4 {
                    let char = text[i + k]
                    if char == UInt8(ascii: "=") {
                        guard i + 4 == length, k >= 4 - padding else { return false }
                        word <<= 6
                    } else {
                        guard let v = value(char) else { return false }
                        word = word << 6 | v
                    }
                }
                let produced = i + 4 == length ? 3 - padding : 3
                if produced > 0 { out[o] = UInt8(word >> 16 & 0xff) }
                if produced > 1 { out[o + 1] = UInt8(word >> 8 & 0xff) }
                if produced > 2 { out[o + 2] = UInt8(word & 0xff) }
                // Canonical form: the bits dropped by padding must be zero.
                if produced == 2 && word & 0xff != 0 { return false }
                if produced == 1 && word & 0xffff != 0 { return false }
                o += produced
                i += 4
                word = 0
            }
            return true
        }
        return valid ? out : nil
    }
}
