// The PSK broker messages: SetPsk request and response (docs/components.md §1.2–§1.4).

/// Sizes and type bytes of the PSK broker protocol (docs/components.md §1 and Appendix A).
public enum BrokerWire {
    /// The message type of SetPsk, the only message defined, for request and response alike (§1.2).
    public static let setPskType: UInt8 = 0x01
    /// Bytes of a SetPsk request payload: type, 3 reserved, PSK, peer key, name length, 255 name bytes (§1.3).
    public static let requestSize = 324
    /// Bytes of a SetPsk response payload: type, 3 reserved, return code (§1.4).
    public static let responseSize = 5
    /// Bytes of the little-endian length prefix in front of every message (§1.1).
    public static let lengthPrefixSize = 8
    /// Bytes of a WireGuard key: preshared key and peer public key alike.
    public static let keySize = 32
    /// Room for the interface name inside a request (§1.3).
    public static let interfaceNameCapacity = 255

    // Where the fields of a SetPsk request payload lie (§1.3); the only place these offsets are spelled out.
    static let pskBytes = 4..<36
    static let peerBytes = 36..<68
    static let nameLengthOffset = 68
    static let nameStart = 69
}

/// The return code of a SetPsk response (docs/components.md §1.4).
public enum BrokerReturnCode: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The PSK is installed.
    case success = 0x00
    /// Any other failure: a backend error, a malformed request, or a request the broker's policy refuses.
    case internalError = 0x01
    /// The interface exists in no WireGuard backend.
    case noSuchInterface = 0x02
    /// The peer's public key is not configured on the interface.
    case noSuchPeer = 0x03

    public var description: String {
        switch self {
        case .success: return "Success"
        case .internalError: return "InternalError"
        case .noSuchInterface: return "NoSuchInterface"
        case .noSuchPeer: return "NoSuchPeer"
        }
    }
}

/// A SetPsk request: set `presharedKey` on the peer `peer` of interface `interface` (docs/components.md §1.3).
///
/// Layout of the 324-byte payload: `msg_type` (0x01), 3 reserved bytes, the 32-byte PSK, the 32-byte
/// peer public key, the name length (0...255) and 255 bytes of name, of which only the first
/// `iface_len` count. The PSK stays in a ``PresharedKey`` and is zeroed when released.
public struct SetPskRequest: Sendable {
    /// The WireGuard interface name, as sent (at most 255 bytes of UTF-8).
    public var interface: String
    /// The peer's WireGuard public key.
    public var peer: WireGuardPublicKey
    /// The key to install.
    public var presharedKey: PresharedKey

    /// Creates a request.
    /// - Throws: ``BrokerError/invalidArgument(_:)`` when the name is longer than 255 bytes (§1.3 client rule).
    public init(interface: String, peer: WireGuardPublicKey, presharedKey: PresharedKey) throws {
        guard interface.utf8.count <= BrokerWire.interfaceNameCapacity else {
            throw BrokerError.invalidArgument(
                "interface name of \(interface.utf8.count) bytes is longer than the broker protocol's 255")
        }
        self.interface = interface
        self.peer = peer
        self.presharedKey = presharedKey
    }

    /// Writes the 324-byte payload into `buffer`, which must hold at least that many bytes.
    /// The caller owns the buffer and must zero it after use: it then holds the PSK.
    public func encodePayload(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= BrokerWire.requestSize)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        buffer[0] = BrokerWire.setPskType
        presharedKey.withUnsafeBytes { psk in
            UnsafeMutableRawBufferPointer(rebasing: buffer[BrokerWire.pskBytes]).copyMemory(from: psk)
        }
        for (index, byte) in peer.rawBytes.enumerated() { buffer[BrokerWire.peerBytes.lowerBound + index] = byte }
        let name = Array(interface.utf8)
        buffer[BrokerWire.nameLengthOffset] = UInt8(name.count)
        for (index, byte) in name.enumerated() { buffer[BrokerWire.nameStart + index] = byte }
    }

    /// The interface and peer a request payload is for, without touching its key; `nil` when the
    /// payload is not a well-formed SetPsk request. The socket handler uses it to track each key's
    /// age without decoding (and copying) the PSK.
    public static func target(ofPayload payload: UnsafeRawBufferPointer) -> PeerOnInterface? {
        guard payload.count == BrokerWire.requestSize, payload[0] == BrokerWire.setPskType,
            let name = interfaceName(inPayload: payload),
            let peer = WireGuardPublicKey(Array(payload[BrokerWire.peerBytes]))
        else { return nil }
        return PeerOnInterface(interface: name, peer: peer)
    }

    /// The interface name of a 324-byte request payload, if it is UTF-8.
    private static func interfaceName(inPayload payload: UnsafeRawBufferPointer) -> String? {
        let length = Int(payload[BrokerWire.nameLengthOffset])
        return String(validating: UnsafeRawBufferPointer(rebasing: payload[BrokerWire.nameStart..<(BrokerWire.nameStart + length)]), as: UTF8.self)
    }

    /// Decodes a request payload. Only the payload: the length prefix is the frame decoder's job.
    ///
    /// - Throws: ``BrokerError/malformedMessage(_:)`` when the payload is not exactly 324 bytes, the
    ///   type is not SetPsk, or the name is not UTF-8 (§1.3 server rules). The reserved bytes are ignored.
    public init(decodingPayload payload: UnsafeRawBufferPointer) throws {
        guard payload.count == BrokerWire.requestSize else {
            throw BrokerError.malformedMessage(
                "SetPsk request must be \(BrokerWire.requestSize) bytes, got \(payload.count)")
        }
        guard payload[0] == BrokerWire.setPskType else {
            throw BrokerError.malformedMessage("unknown request type 0x\(String(payload[0], radix: 16))")
        }
        guard let name = Self.interfaceName(inPayload: payload) else {
            throw BrokerError.malformedMessage("interface name is not valid UTF-8")
        }
        self.interface = name
        self.peer = WireGuardPublicKey(Array(payload[BrokerWire.peerBytes]))!
        self.presharedKey = PresharedKey(copying: UnsafeRawBufferPointer(rebasing: payload[BrokerWire.pskBytes]))!
    }
}

/// A SetPsk response: the request's outcome (docs/components.md §1.4).
public struct SetPskResponse: Hashable, Sendable {
    /// What happened to the request.
    public var returnCode: BrokerReturnCode

    /// Creates a response with `returnCode`.
    public init(_ returnCode: BrokerReturnCode) {
        self.returnCode = returnCode
    }

    /// The 5-byte payload: type 0x01, 3 zero bytes, the return code.
    public var encodedPayload: [UInt8] {
        [BrokerWire.setPskType, 0, 0, 0, returnCode.rawValue]
    }

    /// The payload with its length prefix, ready to write.
    public var encodedFrame: [UInt8] {
        LengthPrefixedFrames.encode(encodedPayload)
    }

    /// Decodes a response payload.
    /// - Throws: ``BrokerError/malformedMessage(_:)`` when it is not exactly 5 bytes, the type is not
    ///   SetPsk, or the return code is unknown.
    public init<Bytes: Collection<UInt8>>(decodingPayload payload: Bytes) throws {
        let bytes = Array(payload)
        guard bytes.count == BrokerWire.responseSize else {
            throw BrokerError.malformedMessage(
                "SetPsk response must be \(BrokerWire.responseSize) bytes, got \(bytes.count)")
        }
        guard bytes[0] == BrokerWire.setPskType else {
            throw BrokerError.malformedMessage("unknown response type 0x\(String(bytes[0], radix: 16))")
        }
        guard let code = BrokerReturnCode(rawValue: bytes[4]) else {
            throw BrokerError.malformedMessage("unknown return code 0x\(String(bytes[4], radix: 16))")
        }
        self.returnCode = code
    }
}
