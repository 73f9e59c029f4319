// Message types, lengths and field offsets (`docs/protocol.md` §3, `docs/mceliece-round3.md` §7).

/// The first byte of every Rosenpass datagram (`docs/protocol.md` §3).
public enum MessageType: UInt8, Sendable, Hashable, CustomStringConvertible {
    case initHello = 0x81
    case respHello = 0x82
    case initConf = 0x83
    case emptyData = 0x84
    case cookieReply = 0x86

    public var description: String {
        switch self {
        case .initHello: return "InitHello"
        case .respHello: return "RespHello"
        case .initConf: return "InitConf"
        case .emptyData: return "EmptyData"
        case .cookieReply: return "CookieReply"
        }
    }
}

/// Field sizes shared by several messages (`docs/protocol.md` §1.6).
enum FieldSize {
    static let sessionID = 4
    static let kyberPublicKey = 800
    static let kyberCiphertext = 768
    static let peerIDCiphertext = 32 + 16
    static let auth = 16
    static let biscuit = 116
    static let mac = 16
    static let cookie = 16
    static let envelopeHeader = 4
    static let envelopeTrailer = mac + cookie
}

/// The exact layout of each message for one McEliece variant.
struct MessageLayout: Sendable, Hashable {
    let variant: McElieceVariant

    var mcelieceCiphertext: Int { variant.ciphertextCount }

    /// InitHello: sidi 4 ‖ epki 800 ‖ sctr ‖ pidi_ct 48 ‖ auth 16, in the envelope (§3.2).
    var initHelloLength: Int {
        FieldSize.envelopeHeader + FieldSize.sessionID + FieldSize.kyberPublicKey + mcelieceCiphertext
            + FieldSize.peerIDCiphertext + FieldSize.auth + FieldSize.envelopeTrailer
    }

    /// RespHello: sidr 4 ‖ sidi 4 ‖ ecti 768 ‖ scti ‖ auth 16 ‖ biscuit 116, in the envelope (§3.3).
    var respHelloLength: Int {
        FieldSize.envelopeHeader + 2 * FieldSize.sessionID + FieldSize.kyberCiphertext + mcelieceCiphertext
            + FieldSize.auth + FieldSize.biscuit + FieldSize.envelopeTrailer
    }

    /// InitConf is 176 bytes in both variants (§3.4).
    static let initConfLength = 176
    /// EmptyData is 64 bytes in both variants (§3.5).
    static let emptyDataLength = 64
    /// A CookieReply is padded to the size of the InitHello it answers (§3.9).
    var cookieReplyLength: Int { initHelloLength }

    static let round3 = MessageLayout(variant: .round3)
    static let round4 = MessageLayout(variant: .round4)

    /// The layout whose `keyPath` length equals `count`, if any.
    static func matching(_ keyPath: KeyPath<MessageLayout, Int>, count: Int) -> MessageLayout? {
        [round4, round3].first { $0[keyPath: keyPath] == count }
    }
}

/// Offsets of the envelope fields in a message of `count` bytes (§3.1).
enum Envelope {
    /// Offset of the MAC: it covers bytes `0 ..< macOffset`.
    static func macOffset(_ count: Int) -> Int { count - FieldSize.envelopeTrailer }
    /// Offset of the cookie field: it covers bytes `0 ..< cookieOffset`.
    static func cookieOffset(_ count: Int) -> Int { count - FieldSize.cookie }
}
