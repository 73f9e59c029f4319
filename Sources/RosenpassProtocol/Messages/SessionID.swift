// Session ids (`docs/protocol.md` §1.6, §7).

/// A 4-byte session id, chosen at random by the side that owns it.
public struct SessionID: Hashable, Sendable, CustomStringConvertible {
    /// The four bytes as they appear on the wire.
    public let bytes: [UInt8]

    /// Wraps four wire bytes.
    public init(bytes: [UInt8]) {
        precondition(bytes.count == FieldSize.sessionID, "a session id is 4 bytes")
        self.bytes = bytes
    }

    init(_ slice: ArraySlice<UInt8>) { self.init(bytes: Array(slice)) }

    public var description: String { bytes.map { String($0, radix: 16).leftPadded(2) }.joined() }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
