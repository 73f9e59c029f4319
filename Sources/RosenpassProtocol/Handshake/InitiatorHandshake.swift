// The initiator's handshake state machine (`docs/protocol.md` §4.1, §4.2, §4.4, §4.6).

/// Our open handshake as initiator with one peer. It lives 180 s from creation, through both
/// phases, and retransmits its stored message on the schedule of `docs/protocol.md` §5.4.
struct InitiatorHandshake: Equatable, Sendable {
    /// One InitHello of the handshake, in one McEliece format, and the chain it leaves behind.
    struct Hello: Equatable, Sendable {
        let variant: McElieceVariant
        /// The chain after IHI8, which the RespHello continues.
        let chain: ChainingKey
        /// The InitHello with its MAC; the cookie field is refilled on every send.
        let message: [UInt8]
    }

    /// Where the handshake stands; each case holds exactly what that phase needs.
    enum Stage: Equatable, Sendable {
        /// InitHello sent; waiting for RespHello. Holds the ephemeral Kyber keys and one InitHello
        /// per format tried: one, or two while the peer's format is being probed
        /// (`Peer-McElieceFormat.swift`); the first is sent first.
        case awaitingRespHello(ephemeralSecretKey: Secret, ephemeralPublicKey: [UInt8], hellos: [Hello])
        /// InitConf sent (the session is live); waiting for the EmptyData acknowledgement.
        case awaitingEmptyData(sidr: SessionID)
    }

    let createdAt: Seconds
    let sidi: SessionID
    /// Why we started it.
    let reason: InitiationReason
    var stage: Stage
    /// The InitHello or InitConf to retransmit (with its MAC; the cookie is refilled for InitHello).
    var storedMessage: [UInt8]
    var schedule = RetransmissionSchedule()
    /// The cookie value that fills the envelope cookie field: random at first, then from a CookieReply.
    var cookieValue: Secret
    var cookieValueReceivedAt: Seconds

    /// When the handshake is given up.
    var expiresAt: Seconds { createdAt + TimerConstants.rejectAfterTime }

    /// The InitHellos of a handshake still waiting for its RespHello (empty afterwards).
    var hellos: [Hello] {
        if case .awaitingRespHello(_, _, let hellos) = stage { return hellos }
        return []
    }

    /// The InitHello in `variant`'s format, while waiting for the RespHello.
    func hello(_ variant: McElieceVariant) -> Hello? { hellos.first { $0.variant == variant } }

    /// Whether the InitConf has been sent (the handshake is committed to its session).
    var isCommitted: Bool {
        if case .awaitingEmptyData = stage { return true }
        return false
    }

    /// The message type the handshake waits for an answer to.
    var awaitedAnswer: MessageType { isCommitted ? .emptyData : .respHello }

    /// Advances the schedule and returns the message to send again: an InitConf byte-identical
    /// (`docs/protocol.md` §3.8), an InitHello with its cookie recomputed from the current cookie value,
    /// alternating between the formats being probed.
    mutating func nextRetransmission(now: Seconds, jitter: Double) -> [UInt8] {
        schedule.advance(now: now, jitter: jitter)
        let hellos = self.hellos
        if hellos.count > 1 {
            storedMessage = hellos[(schedule.count - 1) % hellos.count].message
        }
        return messageForRetransmission
    }

    /// The stored message as it is sent again now.
    var messageForRetransmission: [UInt8] {
        var message = storedMessage
        if message[0] == MessageType.initHello.rawValue {
            Envelope.sealCookie(&message, cookieValue: cookieValue)
        }
        return message
    }

    /// How many times the stored message has been sent again since it was stored.
    var retransmissions: Int { max(0, schedule.count - 1) }
}

/// Why a handshake was started, for logs and status.
public enum InitiationReason: Sendable, Hashable, CustomStringConvertible {
    /// No key yet with this peer (start-up, or after the key went stale).
    case noKey
    /// The key is due to be replaced (120 s or 130 s after it was made).
    case rekey
    /// A repair after two handshakes crossed (`Peer-Collisions.swift`).
    case collisionRepair
    /// The daemon asked for it.
    case requested

    public var description: String {
        switch self {
        case .noKey: return "no key yet"
        case .rekey: return "rekey"
        case .collisionRepair: return "repair after crossed handshakes"
        case .requested: return "requested"
        }
    }
}

/// The responder's cached answer to the last InitConf of a peer (`docs/protocol.md` §5.8).
struct CachedResponse: Equatable, Sendable {
    let receivedAt: Seconds
    /// InitConf bytes `0 ..< 160` (everything but the cookie field).
    let initConfKey: [UInt8]
    /// The EmptyData sent, MAC included, cookie field zero.
    let emptyData: [UInt8]

    var expiresAt: Seconds { receivedAt + TimerConstants.responseCacheLifetime }
}
