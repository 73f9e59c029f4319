// Crossed handshakes: both ends of a pair end with the same key whatever the other end's
// implementation does (docs/handshake-collisions.md has the whole argument and the peer models).
//
// Each node keeps one key per peer: the one it output last. When the two ends start handshakes at
// about the same time (both start up, both rekey), both handshakes can finish, and each end may
// output the two keys in a different order. The reference outputs its initiator key on RespHello
// and drops its own handshake when it accepts the peer's InitConf; go-rosenpass outputs its
// initiator key only when the EmptyData arrives, keeps its own handshake when it accepts, and may
// apply two keys that finish within a millisecond in either order. No rule about which InitConf to
// accept or decline makes both ends agree against all of these (the document shows a
// counterexample for each), so we do what every one of them accepts: a further handshake.
//
// The rule, local to this node and invisible on the wire:
// 1. Every valid new InitConf is accepted, as in the reference: install the responder session,
//    output its key, answer with EmptyData, drop our own handshake. (Declining one and leaving a
//    go-rosenpass initiator without its EmptyData makes it write a random key 180 s later.)
// 2. The InitConf is a *rival* when it belongs to a handshake that ran alongside one of ours that we
//    committed to (we sent our InitConf and output our key): our handshake is still waiting for its
//    EmptyData, or the InitConf's biscuit was issued before that handshake ended (``Peer/rivalHorizon``).
//    Only then can the two ends have output the same two keys in different orders: if we never
//    committed, we output only the peer's key, and the peer outputs ours only on our InitConf; if
//    we never process the peer's InitConf, the peer outputs its own key only before ours (reference)
//    or never (go-rosenpass, which waits for our EmptyData). One more case comes from go-rosenpass
//    alone: it applies each key on a goroutine of its own, so two keys that reach it within a
//    millisecond take effect in either order, even from handshakes that followed each other. So two
//    keys we output within ``TimerConstants/crossingWindow`` of each other, one as initiator and one
//    as responder, count as crossed handshakes too.
// 3. After a rival, we start a *repair* handshake once the crossing messages have arrived: after
//    ``TimerConstants/collisionRepairDelay`` if we outrank the peer (greater peer id), else after
//    ``TimerConstants/collisionRepairDelayOutranked``. The repair's key is the last output at both
//    ends, since the peer outputs it on our InitConf, which follows everything of the collision.
// 4. Two of our nodes both see the rival and would both repair; the staggered delays let the first
//    repair arrive before the second is due. Answering an InitHello the peer sent after the
//    collision pushes our repair back; accepting the InitConf of such a clean handshake cancels it.
//    Against the reference and go-rosenpass, which never repair, ours is the only one.
//
// A collision therefore costs one extra handshake, and both ends hold the same key within the
// repair delay plus one round trip of the crossing.

/// A repair handshake due after a collision.
struct CollisionRepair: Equatable, Sendable {
    /// When to start it.
    var due: Seconds
    /// Our biscuit counter when the collision was seen: an InitHello we answer with a biscuit at or
    /// above it belongs to a handshake the peer started afterwards.
    let biscuitFloor: BiscuitNumber
}

extension Peer {
    /// Whether we outrank a peer with id `theirs` when our id is `ours`: our id is greater byte-wise.
    /// Equal ids (a node configured as its own peer) outrank neither way.
    static func outranks(ours: PeerID, theirs: PeerID) -> Bool {
        theirs.bytes.lexicographicallyPrecedes(ours.bytes)
    }

    /// Whether a valid, new InitConf from this peer, on biscuit `number`, ran alongside a
    /// handshake of ours that we committed to.
    func isRival(biscuit number: BiscuitNumber) -> Bool {
        if handshake?.isCommitted == true { return true }
        if let rivalHorizon, number < rivalHorizon { return true }
        return false
    }

    /// Whether a key we output now as responder follows one we output as initiator so closely that
    /// the peer may have applied the two in either order.
    func keyFollowsInitiatorKey(at now: Seconds) -> Bool {
        now - lastInitiatorKeyAt < TimerConstants.crossingWindow
    }

    /// Whether a key we output now as initiator follows one we output as responder that closely.
    func keyFollowsResponderKey(at now: Seconds) -> Bool {
        now - lastResponderKeyAt < TimerConstants.crossingWindow
    }

    /// How long after a collision this end starts its repair: shorter for the end that outranks.
    func collisionRepairDelay(jitter: Double) -> Seconds {
        let base = outranksPeer ? TimerConstants.collisionRepairDelay : TimerConstants.collisionRepairDelayOutranked
        return base + TimerConstants.collisionRepairJitter * jitter
    }
}
