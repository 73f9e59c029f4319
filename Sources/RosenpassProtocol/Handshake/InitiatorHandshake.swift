// The initiator's handshake state machine (`protocol.md` §4.1, §4.2, §4.4, §4.6).

/// Our open handshake as initiator with one peer. It lives 180 s from creation, through both
/// phases, and retransmits its stored message on the schedule of `protocol.md` §5.4.
struct InitiatorHandshake: Equatable, Sendable {
    /// Where the handshake stands; each case holds exactly what that phase needs.
    enum Stage: Equatable, Sendable {
        /// InitHello sent; waiting for RespHello. Holds the chain after IHI8 and the ephemeral Kyber keys.
        case awaitingRespHello(chain: ChainingKey, ephemeralSecretKey: Secret, ephemeralPublicKey: [UInt8])
        /// InitConf sent (the session is live); waiting for the EmptyData acknowledgement.
        case awaitingEmptyData(sidr: SessionID)
    }

    let createdAt: Seconds
    let sidi: SessionID
    /// The McEliece ciphertext format of this handshake.
    let variant: McElieceVariant
    var stage: Stage
    /// The InitHello or InitConf to retransmit (with its MAC; the cookie is refilled for InitHello).
    var storedMessage: [UInt8]
    var schedule = RetransmissionSchedule()
    /// The cookie value that fills the envelope cookie field: random at first, then from a CookieReply.
    var cookieValue: Secret
    var cookieValueReceivedAt: Seconds
    /// When we first declined the peer's rival InitConf while awaiting our EmptyData; our InitConf
    /// must be acknowledged within ``TimerConstants/rivalDeclineTimeout`` of it, or we start over
    /// (`Peer-SimultaneousInitiation.swift`).
    var rivalDeclinedAt: Seconds?

    /// When the handshake is given up.
    var expiresAt: Seconds { createdAt + TimerConstants.rejectAfterTime }

    /// The stored message as it is sent again: an InitHello gets its cookie recomputed with the
    /// current cookie value; an InitConf goes out byte-identical (`protocol.md` §3.8).
    var messageForRetransmission: [UInt8] {
        var message = storedMessage
        if message[0] == MessageType.initHello.rawValue {
            Envelope.sealCookie(&message, cookieValue: cookieValue)
        }
        return message
    }
}

/// The responder's cached answer to the last InitConf of a peer (`protocol.md` §5.8).
struct CachedResponse: Equatable, Sendable {
    let receivedAt: Seconds
    /// InitConf bytes `0 ..< 160` (everything but the cookie field).
    let initConfKey: [UInt8]
    /// The EmptyData sent, MAC included, cookie field zero.
    let emptyData: [UInt8]

    var expiresAt: Seconds { receivedAt + TimerConstants.responseCacheLifetime }
}
