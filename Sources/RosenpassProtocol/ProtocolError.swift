// The one error type of the protocol module.

/// Why the protocol core refused an operation or dropped a datagram.
///
/// Every dropped datagram leaves the server's state unchanged (`protocol.md` §8, with the §9 fixes),
/// so the error is only for logging. The cases are private so new ones can be added; compare with
/// ``kind``.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, coarsely, for tests and log levels.
    public enum Kind: Hashable, Sendable {
        /// A key, PSK or configuration value was unusable.
        case invalidConfiguration
        /// A datagram was empty, of an unknown type, or of the wrong length for its type.
        case malformedMessage
        /// The envelope MAC did not verify.
        case badMAC
        /// A cryptographic check failed (AEAD tag, biscuit, unknown peer id).
        case authenticationFailed
        /// The message was well formed but did not fit the current state (no matching handshake,
        /// duplicate, replayed biscuit, version mismatch, ...).
        case unexpectedMessage
        /// A peer handle did not name a configured peer.
        case unknownPeer
    }

    /// The coarse category.
    public let kind: Kind
    /// A human-readable explanation naming the message or value and the problem.
    public let detail: String

    private init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { detail }

    @inline(never)
    static func invalidConfiguration(_ detail: String) -> ProtocolError { ProtocolError(.invalidConfiguration, detail) }

    @inline(never)
    static func malformed(_ detail: String) -> ProtocolError { ProtocolError(.malformedMessage, detail) }

    @inline(never)
    static func badMAC(_ message: MessageType) -> ProtocolError {
        ProtocolError(.badMAC, "\(message): the envelope MAC does not verify")
    }

    @inline(never)
    static func authenticationFailed(_ detail: String) -> ProtocolError { ProtocolError(.authenticationFailed, detail) }

    @inline(never)
    static func unexpected(_ detail: String) -> ProtocolError { ProtocolError(.unexpectedMessage, detail) }

    @inline(never)
    static func unknownPeer(_ detail: String) -> ProtocolError { ProtocolError(.unknownPeer, detail) }
}
