// Which Classic McEliece ciphertext format we send when we start a handshake
// (docs/interoperability.md).
//
// The public key is the same in both formats, and our secret key converts between the two layouts,
// so as responder we answer whatever format arrives (told apart by message length). As initiator we
// must send a format the peer reads, and nothing we hold says which: the secret-key layout (13568 or
// 13608 bytes) only says which software wrote the key, not which round the peer speaks. So:
// - `mceliece_variant` in the configuration decides, when set;
// - otherwise the format of the peer's last completed handshake ("learned"): the RespHello that
//   answered ours, or the InitHello of a handshake the peer finished with its InitConf (an InitHello
//   alone could be a replay, so it teaches nothing until the InitConf proves the sender live);
// - otherwise round 3, the deployed format (Rosenpass 0.2.x, go-rosenpass, the reference since
//   2026-09), and while nothing is learned our InitHello retransmissions alternate between round 3
//   and round 4 ("probing"), so that a peer that only reads round 4 answers the second copy. A peer
//   that reads round 3 answers the first one, sent alone, as before.

extension Peer {
    /// The format of the first InitHello of our next handshake.
    var initiatorVariant: McElieceVariant { configuredVariant ?? learnedVariant ?? .round3 }

    /// The formats our next handshake offers, in the order they are sent: the initiator format, then
    /// the other one while the peer's format is unknown.
    var offeredVariants: [McElieceVariant] {
        guard configuredVariant == nil && learnedVariant == nil else { return [initiatorVariant] }
        return [.round3, .round4]
    }

    /// How many answered InitHellos ``rememberAnswer(sidr:variant:)`` keeps.
    static let rememberedAnswers = 4

    /// Remembers the format of an InitHello we answered with session id `sidr`, for when its InitConf
    /// arrives.
    mutating func rememberAnswer(sidr: SessionID, variant: McElieceVariant) {
        recentAnswers.append(AnsweredHello(sidr: sidr, variant: variant))
        if recentAnswers.count > Self.rememberedAnswers { recentAnswers.removeFirst() }
    }

    /// The format of the InitHello we answered with session id `sidr`, if it is among the last few.
    func answeredVariant(sidr: SessionID) -> McElieceVariant? {
        recentAnswers.last { $0.sidr == sidr }?.variant
    }

    /// Records that the peer completed a handshake in `variant`. Returns `variant` when this
    /// changes the format we initiate with (worth telling the operator once), else `nil`.
    mutating func learnVariant(_ variant: McElieceVariant) -> McElieceVariant? {
        guard configuredVariant == nil, learnedVariant != variant else { return nil }
        let before = initiatorVariant
        learnedVariant = variant
        return before == variant ? nil : variant
    }
}

/// An InitHello we answered: the session id of our RespHello and the InitHello's format.
struct AnsweredHello: Equatable, Sendable {
    let sidr: SessionID
    let variant: McElieceVariant
}
