// Simultaneous initiation: both ends of a pair keep the same session (`protocol.md` §5.3,
// `components.md` §9 item 16). No message changes; the rule is local to each node.
//
// The flaw. Each node keeps one session per peer, the one installed last. When H and L initiate at
// about the same time, H can install S_H as initiator (on RespHello) and then S_L as responder (on
// L's InitConf) while L does the mirror image, so H ends with S_L and L with S_H.
//
// The rule. Of the two ends, the one whose peer id (under the version both configure) is greater
// byte-wise *outranks* the other; both compute the same answer. A node commits to its own handshake
// when it installs that handshake's session and sends the InitConf (AwaitEmptyData). The peer's
// InitConf for a handshake that ran alongside ours (a *rival* InitConf) is then:
//   - accepted as in the reference (install the responder session, drop our handshake) by the node
//     that does not outrank, always, and by the node that outranks while it has not committed
//     (no handshake, or AwaitRespHello);
//   - *declined* by the node that outranks once it has committed: it still answers the InitConf
//     with its EmptyData, marks the biscuit used and caches the reply (retransmissions get the
//     same answer), but keeps its session and handshake and reports no key.
//
// Why both ends agree (H outranks L; H_H and H_L the two handshakes):
//   - L installs S_L only on H_L's RespHello, and accepting S_H drops H_L, so a later RespHello
//     finds no handshake. L therefore ends with S_H whenever it processes H's InitConf at all, and
//     it does whenever H committed: H retransmits its InitConf until L's EmptyData arrives.
//   - H commits before L's InitConf arrives: H declines it and keeps S_H; L ends with S_H.
//   - L's InitConf arrives first (H in AwaitRespHello): H accepts S_L and drops H_H before sending
//     its InitConf, so L never sees one and keeps S_L. H_H's late RespHello finds no handshake.
//   - Both committed: H declines, L accepts. Only a committed node sends an InitConf, so there is
//     no fourth case.
//   - H's EmptyData can overtake L's InitConf (reordering). L sent every copy of its InitConf before
//     it accepted S_H, hence before it sent the EmptyData, so H issued that InitConf's biscuit before
//     the EmptyData arrived. H therefore records its biscuit counter when the EmptyData arrives
//     (``Session/rivalHorizon``) and declines InitConfs on older biscuits while the session lasts. A
//     later handshake of L's (rekey, restart) starts after L sent the EmptyData and so gets a newer
//     biscuit, and is accepted. Only an InitHello that overtakes that EmptyData (L restarted within
//     a network delay of sending it) could be misjudged, so after such a decline H starts a new
//     handshake at once; in the usual case that costs one handshake, in the rare one it repairs.
//   - Retransmitted InitConfs hit the response cache, declined or not; a replayed biscuit fails ICR5.
// Why H accepts while in AwaitRespHello instead of declining there too: accepting gives H a key at
// once (declining leaves it without a new key for a round trip and makes L change keys twice), and
// it keeps H live when H's own messages do not reach L (an unreachable configured endpoint): a node
// that declined there would never finish a handshake, never learn where L is, and never get a key.
//
// Liveness. A declined InitConf means L holds a key H does not share until L processes H's InitConf.
// If L lost its state after answering our InitHello (a restart), it never will: the restarted L
// cannot open our biscuit and keeps its own session. So when our InitConf is still unacknowledged
// ``TimerConstants/rivalDeclineTimeout`` after a decline, H gives its handshake up and starts a new
// one at once (`CryptoServer.poll`), which L, not outranking, accepts. Giving up too early is safe:
// H keeps S_H until the new handshake installs S_H', and L accepts whichever of H's InitConfs it
// processes, the newer biscuit last.
//
// Timers afterwards. The agreed session was made by one side as initiator (rekey at 130 s) and by
// the other as responder (120 s), so the next rekeys no longer coincide and the roles alternate.
//
// A reference peer accepts every InitConf. If it does not outrank us we act as above and the pair
// agrees; if it outranks us, we accept as it does, which is the reference's behaviour on both ends:
// no worse than two reference nodes.

extension Peer {
    /// Whether we outrank a peer with id `theirs` when our id is `ours`: our id is greater byte-wise.
    /// Equal ids (a node configured as its own peer) outrank neither way.
    static func outranks(ours: PeerID, theirs: PeerID) -> Bool {
        theirs.bytes.lexicographicallyPrecedes(ours.bytes)
    }

    /// Whether a valid, new InitConf from this peer, on biscuit number `number`, is declined because
    /// it belongs to a handshake that ran alongside one of ours that we outrank and committed to.
    func declinesRivalInitConf(biscuit number: BiscuitNumber) -> Bool {
        guard outranksPeer else { return false }
        if case .awaitingEmptyData = handshake?.stage { return true }
        if let session, session.role == .initiator, let horizon = session.rivalHorizon, number < horizon { return true }
        return false
    }
}
