// The five wire messages: exact-length parsing and encoding (`docs/protocol.md` §3).

/// A datagram classified by type and length, before any cryptographic check.
///
/// Parsing only accepts the exact length of the type (InitHello 1060/1092, RespHello 1100/1132,
/// InitConf 176, EmptyData 64, CookieReply 1060/1092); anything else is rejected.
enum ParsedDatagram {
    case initHello(InitHello)
    case respHello(RespHello)
    case initConf(InitConf)
    case emptyData(EmptyData)
    case cookieReply(CookieReply)

    /// Classifies `bytes`.
    ///
    /// - Throws: ``ProtocolError`` of kind `malformedMessage` for an empty datagram, an unknown type
    ///   (including the unimplemented Data 0x85) or a wrong length.
    static func parse(_ bytes: [UInt8]) throws(ProtocolError) -> ParsedDatagram {
        guard let first = bytes.first else { throw .malformed("empty datagram") }
        guard let type = MessageType(rawValue: first) else {
            throw .malformed("unknown message type 0x\(String(first, radix: 16)) (\(bytes.count) bytes)")
        }
        func wrongLength(_ expected: String) -> ProtocolError {
            .malformed("\(type) of \(bytes.count) bytes; expected \(expected)")
        }
        switch type {
        case .initHello:
            guard let layout = MessageLayout.matching(\.initHelloLength, count: bytes.count) else {
                throw wrongLength("1060 or 1092")
            }
            return .initHello(InitHello(parsing: bytes, layout: layout))
        case .respHello:
            guard let layout = MessageLayout.matching(\.respHelloLength, count: bytes.count) else {
                throw wrongLength("1100 or 1132")
            }
            return .respHello(RespHello(parsing: bytes, layout: layout))
        case .initConf:
            guard bytes.count == MessageLayout.initConfLength else { throw wrongLength("176") }
            return .initConf(InitConf(parsing: bytes))
        case .emptyData:
            guard bytes.count == MessageLayout.emptyDataLength else { throw wrongLength("64") }
            return .emptyData(EmptyData(parsing: bytes))
        case .cookieReply:
            guard let layout = MessageLayout.matching(\.cookieReplyLength, count: bytes.count) else {
                throw wrongLength("1060 or 1092")
            }
            return .cookieReply(CookieReply(parsing: bytes, layout: layout))
        }
    }
}

/// Writes fields one after another into a message buffer.
struct MessageWriter {
    private(set) var bytes: [UInt8]

    init(type: MessageType, count: Int) {
        bytes = [UInt8](repeating: 0, count: count)
        bytes[0] = type.rawValue
        offset = FieldSize.envelopeHeader
    }

    private var offset: Int

    mutating func append(_ field: [UInt8]) {
        bytes.replaceSubrange(offset..<(offset + field.count), with: field)
        offset += field.count
    }

    mutating func append(_ secret: Secret) {
        secret.withUnsafeBytes { source in
            bytes.withUnsafeMutableBytes { target in
                UnsafeMutableRawBufferPointer(rebasing: target[offset..<(offset + source.count)]).copyMemory(from: source)
            }
        }
        offset += secret.count
    }

    /// The finished message; the envelope's MAC and cookie fields are still zero.
    func finish() -> [UInt8] {
        precondition(offset == bytes.count - FieldSize.envelopeTrailer || bytes[0] == MessageType.cookieReply.rawValue)
        return bytes
    }
}

/// Reads fields one after another from a message.
struct MessageReader {
    let bytes: [UInt8]
    private var offset = FieldSize.envelopeHeader

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func read(_ count: Int) -> [UInt8] {
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    mutating func readSessionID() -> SessionID { SessionID(bytes: read(FieldSize.sessionID)) }
}

/// InitHello (0x81, `docs/protocol.md` §3.2).
struct InitHello {
    let bytes: [UInt8]
    let layout: MessageLayout
    let sidi: SessionID
    let epki: [UInt8]
    let sctr: [UInt8]
    let pidiCiphertext: [UInt8]
    let auth: [UInt8]

    init(parsing bytes: [UInt8], layout: MessageLayout) {
        var reader = MessageReader(bytes)
        self.bytes = bytes
        self.layout = layout
        sidi = reader.readSessionID()
        epki = reader.read(FieldSize.kyberPublicKey)
        sctr = reader.read(layout.mcelieceCiphertext)
        pidiCiphertext = reader.read(FieldSize.peerIDCiphertext)
        auth = reader.read(FieldSize.auth)
    }

    /// The message without MAC and cookie.
    static func encode(
        layout: MessageLayout, sidi: SessionID, epki: [UInt8], sctr: [UInt8], pidiCiphertext: [UInt8], auth: [UInt8]
    ) -> [UInt8] {
        var writer = MessageWriter(type: .initHello, count: layout.initHelloLength)
        writer.append(sidi.bytes)
        writer.append(epki)
        writer.append(sctr)
        writer.append(pidiCiphertext)
        writer.append(auth)
        return writer.finish()
    }
}

/// RespHello (0x82, `docs/protocol.md` §3.3). `auth` precedes `biscuit` on the wire.
struct RespHello {
    let bytes: [UInt8]
    let layout: MessageLayout
    let sidr: SessionID
    let sidi: SessionID
    let ecti: [UInt8]
    let scti: [UInt8]
    let auth: [UInt8]
    let biscuit: [UInt8]

    init(parsing bytes: [UInt8], layout: MessageLayout) {
        var reader = MessageReader(bytes)
        self.bytes = bytes
        self.layout = layout
        sidr = reader.readSessionID()
        sidi = reader.readSessionID()
        ecti = reader.read(FieldSize.kyberCiphertext)
        scti = reader.read(layout.mcelieceCiphertext)
        auth = reader.read(FieldSize.auth)
        biscuit = reader.read(FieldSize.biscuit)
    }

    static func encode(
        layout: MessageLayout, sidr: SessionID, sidi: SessionID, ecti: [UInt8], scti: [UInt8], auth: [UInt8],
        biscuit: [UInt8]
    ) -> [UInt8] {
        var writer = MessageWriter(type: .respHello, count: layout.respHelloLength)
        writer.append(sidr.bytes)
        writer.append(sidi.bytes)
        writer.append(ecti)
        writer.append(scti)
        writer.append(auth)
        writer.append(biscuit)
        return writer.finish()
    }
}

/// InitConf (0x83, `docs/protocol.md` §3.4).
struct InitConf {
    let bytes: [UInt8]
    let sidi: SessionID
    let sidr: SessionID
    let biscuit: [UInt8]
    let auth: [UInt8]

    init(parsing bytes: [UInt8]) {
        var reader = MessageReader(bytes)
        self.bytes = bytes
        sidi = reader.readSessionID()
        sidr = reader.readSessionID()
        biscuit = reader.read(FieldSize.biscuit)
        auth = reader.read(FieldSize.auth)
    }

    static func encode(sidi: SessionID, sidr: SessionID, biscuit: [UInt8], auth: [UInt8]) -> [UInt8] {
        var writer = MessageWriter(type: .initConf, count: MessageLayout.initConfLength)
        writer.append(sidi.bytes)
        writer.append(sidr.bytes)
        writer.append(biscuit)
        writer.append(auth)
        return writer.finish()
    }

    /// The bytes the response cache fingerprints: everything but the cookie field (§5.8).
    var cacheKey: [UInt8] { Array(bytes[0..<Envelope.cookieOffset(bytes.count)]) }
}

/// EmptyData (0x84, `docs/protocol.md` §3.5): the responder's acknowledgement of InitConf.
struct EmptyData {
    let bytes: [UInt8]
    let sid: SessionID
    let counter: UInt64
    let auth: [UInt8]

    init(parsing bytes: [UInt8]) {
        var reader = MessageReader(bytes)
        self.bytes = bytes
        sid = reader.readSessionID()
        counter = reader.read(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
        auth = reader.read(FieldSize.auth)
    }

    static func encode(sid: SessionID, counter: UInt64, auth: [UInt8]) -> [UInt8] {
        var writer = MessageWriter(type: .emptyData, count: MessageLayout.emptyDataLength)
        writer.append(sid.bytes)
        writer.append(counterBytes(counter))
        writer.append(auth)
        return writer.finish()
    }

    static func counterBytes(_ counter: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: counter >> (8 * $0)) } }

    /// The AEAD nonce: `ctr (8 bytes LE) || 0^4`, the reverse of WireGuard's layout.
    static func nonce(_ counter: UInt64) -> [UInt8] { counterBytes(counter) + [0, 0, 0, 0] }
}

/// CookieReply (0x86, `docs/protocol.md` §3.9): no envelope, padded to the size of InitHello.
struct CookieReply {
    static let sealedOffset = 8
    static let sealedCount = 24 + 16 + 16

    let bytes: [UInt8]
    let layout: MessageLayout
    let sid: SessionID
    /// `nonce(24) || encrypted cookie value(16) || tag(16)`.
    let sealedCookie: [UInt8]

    init(parsing bytes: [UInt8], layout: MessageLayout) {
        var reader = MessageReader(bytes)
        self.bytes = bytes
        self.layout = layout
        sid = reader.readSessionID()
        sealedCookie = reader.read(Self.sealedCount)
    }

    static func encode(layout: MessageLayout, sid: SessionID, sealedCookie: [UInt8], padding: [UInt8]) -> [UInt8] {
        var writer = MessageWriter(type: .cookieReply, count: layout.cookieReplyLength)
        writer.append(sid.bytes)
        writer.append(sealedCookie)
        writer.append(padding)
        return writer.finish()
    }

    static func paddingCount(_ layout: MessageLayout) -> Int {
        layout.cookieReplyLength - sealedOffset - sealedCount
    }
}
