// The one error type of the protocol module.

/// Why the protocol core refused an operation or dropped a datagram.
///
/// Every dropped datagram leaves the server's state unchanged (`docs/protocol.md` §8, with the §9 fixes),
/// so the error is only for logging and counting. The initializers are private so new cases can be
/// added; compare with ``kind`` or ``reason``.
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
    /// Why a datagram was dropped, finely enough to tell an operator what to check.
    public let reason: DropReason
    /// The configured peer the datagram came from, when the checks got far enough to tell.
    public let peer: PeerHandle?
    /// A human-readable explanation naming the message or value and the problem.
    public let detail: String

    private init(_ kind: Kind, _ reason: DropReason, peer: Int? = nil, _ detail: String) {
        self.kind = kind
        self.reason = reason
        self.peer = peer.map(PeerHandle.init(index:))
        self.detail = detail
    }

    public var description: String { detail }

    @inline(never)
    static func invalidConfiguration(_ detail: String) -> ProtocolError { ProtocolError(.invalidConfiguration, .other, detail) }

    @inline(never)
    static func malformed(_ detail: String) -> ProtocolError { ProtocolError(.malformedMessage, .malformed, detail) }

    @inline(never)
    static func badMAC(_ message: MessageType, peer: Int? = nil) -> ProtocolError {
        ProtocolError(.badMAC, .badMAC, peer: peer, "\(message): the envelope MAC does not verify")
    }

    @inline(never)
    static func authenticationFailed(_ detail: String, reason: DropReason = .authenticationFailed, peer: Int? = nil) -> ProtocolError {
        ProtocolError(.authenticationFailed, reason, peer: peer, detail)
    }

    @inline(never)
    static func unexpected(_ detail: String, reason: DropReason, peer: Int? = nil) -> ProtocolError {
        ProtocolError(.unexpectedMessage, reason, peer: peer, detail)
    }

    /// A peer's public key could not be read when a handshake needed it (``PublicKeySource``).
    @inline(never)
    static func publicKeyUnavailable(_ detail: String, peer: Int? = nil) -> ProtocolError {
        ProtocolError(.invalidConfiguration, .publicKeyUnavailable, peer: peer, detail)
    }

    @inline(never)
    static func unknownPeer(_ detail: String) -> ProtocolError { ProtocolError(.unknownPeer, .other, detail) }

    /// An InitHello from a source that used up its budget under load (``LoadPolicy``).
    static let rateLimited = ProtocolError(
        .unexpectedMessage, .rateLimited, "InitHello from a source that used up its share of the work under load")

    /// The same error, attributed to `peer`.
    func attributed(to peer: Int) -> ProtocolError {
        ProtocolError(kind, reason, peer: peer, detail)
    }
}

/// Why a datagram was dropped: a stable name for counters and a hint for the operator.
public enum DropReason: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Empty, of an unknown type, or of the wrong length for its type (e.g. the other McEliece
    /// format, which the responder side reads but a RespHello for our handshake must match).
    case malformed
    /// The envelope MAC does not verify under our public key: not meant for us, or the sender does
    /// not have our current public key.
    case badMAC = "bad_mac"
    /// An InitHello from a peer id that is not configured.
    case unknownPeer = "unknown_peer"
    /// An AEAD check failed after the peer was identified: the pre-shared keys differ, or one side
    /// has the wrong key of the other.
    case authenticationFailed = "auth_failed"
    /// The peer uses the other protocol version (V02/V03) than we configured for it.
    case versionMismatch = "version_mismatch"
    /// A RespHello, EmptyData or CookieReply for no open handshake of ours: late, duplicated, or
    /// for a handshake we gave up.
    case noHandshake = "no_handshake"
    /// An InitConf on a biscuit already used, or an EmptyData counter already seen.
    case replay
    /// An InitConf whose biscuit we cannot open: older than the biscuit keys (10 minutes) or from
    /// before we restarted.
    case staleBiscuit = "stale_biscuit"
    /// Under load, an InitHello from a source that used up its share of the responder's work.
    case rateLimited = "rate_limited"
    /// The peer's public key could not be read from its file when the handshake needed it, or the
    /// file now holds another key (docs/scaling.md).
    case publicKeyUnavailable = "public_key_unavailable"
    /// Anything else.
    case other

    public var description: String { rawValue }
}
