// The daemon's stdout notification (`docs/components.md` §6.1).

/// What happened to a peer's key.
public enum KeyOutputEvent: String, Sendable {
    /// A handshake finished: the file holds the new key.
    case exchanged
    /// The key is older than 180 s: the file holds a random key instead.
    case stale
}

/// The one kind of line the daemon writes to stdout:
///
/// ```
/// output-key peer <PEER_ID_B64> key-file <QUOTED_PATH> <exchanged|stale>
/// ```
///
/// `<QUOTED_PATH>` is the `key_out` path quoted as Rust's `Debug` quotes a path, so scripts written
/// for the reference parse ours the same way.
public enum KeyOutputLine {
    /// The line, with its trailing newline.
    public static func format(peerID: String, keyFile: String, event: KeyOutputEvent) -> String {
        "output-key peer \(peerID) key-file \(rustDebugQuoted(keyFile)) \(event.rawValue)\n"
    }

    /// `text` quoted like Rust's `Debug` for strings: in double quotes, with `\"`, `\\`, `\n`, `\r`,
    /// `\t`, `\0` and `\u{…}` for other control characters. Bytes that are not UTF-8 (possible in a
    /// path) are shown as `\xNN`.
    public static func rustDebugQuoted(_ text: String) -> String {
        var out = "\""
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            // Decode one scalar; a byte that does not start a valid sequence is escaped alone.
            var iterator = bytes.makeIterator()
            var decoder = UTF8()
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                let length = String(scalar).utf8.count
                bytes = bytes.dropFirst(length)
                out += escape(scalar)
            default:
                out += "\\x" + hex2(bytes.first!)
                bytes = bytes.dropFirst()
            }
        }
        return out + "\""
    }

    private static func escape(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\"": return "\\\""
        case "\\": return "\\\\"
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case "\0": return "\\0"
        default:
            let value = scalar.value
            if value < 0x20 || (0x7F...0x9F).contains(value) || scalar.properties.generalCategory == .format
                || scalar.properties.generalCategory == .lineSeparator || scalar.properties.generalCategory == .paragraphSeparator
                || scalar.properties.generalCategory == .unassigned || scalar.properties.generalCategory == .privateUse
            {
                return "\\u{" + String(value, radix: 16) + "}"
            }
            return String(scalar)
        }
    }

    private static func hex2(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
