// What the daemon tells the operator about each peer: every key at the default level, a warning with
// the likely causes when a peer goes without a key, and the handshake's progress at info level.

import Logging
import RosenpassProtocol

/// A line for the log.
struct LogLine: Equatable, Sendable {
    let level: Logger.Level
    let message: String

    init(_ level: Logger.Level, _ message: String) {
        self.level = level
        self.message = message
    }
}

/// Watches each peer's handshakes, keys and dropped datagrams, and says in the operator's words
/// what is going on. It does no I/O and reads no clock: the daemon feeds it what the protocol core
/// reports and the time, and logs the lines it returns.
///
/// A peer is *overdue* when it has had no key for ``firstKeyGrace`` since the daemon started, or
/// for ``overdueAfter`` since its last key (a key is replaced every two minutes). Then a warning
/// names what was seen (InitHellos without an answer, datagrams that failed a check) and the likely
/// causes; it is repeated after 1 min, 5 min and then every 30 min while the peer stays overdue, and a
/// notice says when keys flow again.
struct PeerMonitor {
    /// A peer as the monitor knows it.
    struct PeerInfo: Sendable {
        let label: PeerLabel
        /// Whether we start handshakes (an endpoint is configured).
        let initiates: Bool
        let version: ProtocolVersion
        /// `mceliece_variant`, when configured.
        let configuredVariant: McElieceVariant?
    }

    /// What failed checks told us about a peer since its last key.
    struct Evidence: Equatable, Sendable {
        var count = 0
        var lastDetail = ""
    }

    /// Per-peer state; also what `rosenpass status` will show.
    struct PeerState: Sendable {
        let info: PeerInfo
        var lastKeyAt: Seconds?
        var handshakesStarted = 0
        var handshakesCompleted = 0
        var handshakesExpired = 0
        /// Handshakes given up without a RespHello: no key came of them (an expired handshake whose
        /// InitConf was never confirmed still gave its key).
        var handshakesFailed = 0
        /// Since when our InitHellos have gone unanswered, and how many were sent since.
        var unansweredSince: Seconds?
        var unansweredInitHellos = 0
        /// Why datagrams of this peer were dropped, since its last key.
        var evidence: [DropReason: Evidence] = [:]
        var cookieRequests = 0
        /// The last thing that went wrong with this peer, and when (kept across keys, for status).
        var lastFailure: (what: String, at: Seconds)?
        /// Warnings given in the current overdue stretch (the next is due at its deadline in `checks`).
        var warnings = 0
        /// Taken out of the configuration (a reload); kept only so that indices stay the core's.
        var isRemoved = false
        /// Why the peer's public key could not be read, as last warned about; cleared by a key.
        var keyUnavailable: String?
        /// When the monitor started watching it: start-up, or the reload that added it.
        var addedAt: Seconds = 0
    }

    /// How long a peer may go without its first key before the operator is warned.
    static let firstKeyGrace: Seconds = 30
    /// How long after its last key a peer counts as overdue (keys are replaced every 120–130 s).
    static let overdueAfter: Seconds = 150
    /// Gaps between repeated warnings; the last one repeats.
    static let warningGaps: [Seconds] = [60, 300, 1800]

    private(set) var peers: [PeerState]
    let startedAt: Seconds
    /// When each peer is next checked for being overdue.
    private var checks = DeadlineQueue()
    /// No peer's check is due before this; the event loop asks on every turn.
    private(set) var nextCheck: Seconds = .infinity

    init(peers: [PeerInfo], now: Seconds) {
        startedAt = now
        self.peers = []
        for info in peers { add(info, now: now) }
    }

    /// A peer added while the daemon runs (a reload); its index is the next one.
    mutating func add(_ info: PeerInfo, now: Seconds) {
        peers.append(PeerState(info: info, addedAt: now))
        scheduleCheck(peers.count - 1, at: now + Self.firstKeyGrace)
    }

    /// A peer taken out of the configuration: no more warnings or status lines for it.
    mutating func remove(_ index: Int) {
        guard peers.indices.contains(index) else { return }
        peers[index].isRemoved = true
        scheduleCheck(index, at: .infinity)
    }

    private mutating func scheduleCheck(_ index: Int, at time: Seconds) {
        checks.schedule(index, at: time)
        nextCheck = checks.earliest()
    }

    // MARK: - What the core reports

    /// Lines for one activity report of the protocol core.
    mutating func record(_ activity: PeerActivity, at now: Seconds) -> [LogLine] {
        let index = activity.peer.index
        guard peers.indices.contains(index) else { return [] }
        let name = "peer \(peers[index].info.label)"
        switch activity {
        case .handshakeStarted(_, let variants, let reason):
            peers[index].handshakesStarted += 1
            peers[index].unansweredSince = peers[index].unansweredSince ?? now
            peers[index].unansweredInitHellos += 1
            let formats = variants.count > 1
                ? "McEliece \(variants[0].shortName) first, then alternating with \(variants[1].shortName) until the peer answers"
                : "McEliece \(variants[0].shortName)"
            return [LogLine(.info, "\(name): handshake started (\(reason)); \(formats)")]
        case .retransmitted(_, let message, let count):
            if message == .initHello {
                peers[index].unansweredInitHellos += 1
                return [LogLine(.info, "\(name): no answer yet; InitHello sent again (\(ordinal(count)) time)")]
            }
            return [LogLine(.info, "\(name): our InitConf is not confirmed yet; sent again (\(ordinal(count)) time)")]
        case .handshakeExpired(_, let awaiting, let retransmissions):
            peers[index].handshakesExpired += 1
            if awaiting == .respHello {
                peers[index].handshakesFailed += 1
                peers[index].lastFailure = ("handshake given up: no RespHello in 180 s", now)
                return [LogLine(.info, "\(name): handshake given up after 180 s without a RespHello (\(retransmissions) retransmissions)")]
            }
            return [LogLine(.debug, "\(name): the peer never confirmed our last InitConf; we hold that handshake's key anyway")]
        case .answeredInitHello(_, let variant):
            heardFrom(index)
            return [LogLine(.debug, "\(name): answered its InitHello (McEliece \(variant.shortName))")]
        case .handshakeCompleted(_, let role, let variant):
            return keyExchanged(index, role: role, variant: variant, at: now)
        case .variantLearned(_, let variant):
            return [
                LogLine(
                    .info,
                    "\(name) uses McEliece \(variant.shortName): our handshakes use it from now on "
                        + "(mceliece_variant = \"\(variant.rawValue)\" in its [[peers]] entry starts with it)")
            ]
        case .handshakesCrossed(_, let repairAt):
            return [
                LogLine(
                    .info,
                    "\(name): our handshake and the peer's crossed; one more handshake in \(humanDuration(max(0, repairAt - now))) makes both ends agree on one key")
            ]
        case .cookieReceived:
            heardFrom(index)
            peers[index].cookieRequests += 1
            return [LogLine(.info, "\(name) is under load and asked for a cookie; InitHello sent again with it")]
        case .publicKeyUnavailable(_, let detail):
            peers[index].lastFailure = ("public key unavailable: \(detail)", now)
            // The core tries again every few seconds: one warning per cause, until the next key.
            guard peers[index].keyUnavailable != detail else {
                return [LogLine(.debug, "\(name): no handshake started: \(detail)")]
            }
            peers[index].keyUnavailable = detail
            return [LogLine(.warning, "\(name): no handshake can start: \(detail)")]
        }
    }

    /// A new key: one line at the default level, and a notice when it ends an overdue stretch.
    private mutating func keyExchanged(_ index: Int, role: HandshakeRole, variant: McElieceVariant?, at now: Seconds) -> [LogLine] {
        let state = peers[index]
        var lines = [LogLine]()
        if state.warnings > 0 {
            let since = state.lastKeyAt ?? state.addedAt
            lines.append(LogLine(.notice, "peer \(state.info.label): keys flow again, after \(humanDuration(now - since)) without one"))
        }
        let how = role == .initiator ? "as initiator" : "as responder"
        let format = variant.map { ", McEliece \($0.shortName)" } ?? ""
        lines.append(LogLine(.notice, "Exchanged key with peer \(state.info.label) (\(how)\(format))"))
        peers[index].lastKeyAt = now
        peers[index].handshakesCompleted += 1
        peers[index].evidence = [:]
        peers[index].warnings = 0
        peers[index].cookieRequests = 0
        peers[index].keyUnavailable = nil
        scheduleCheck(index, at: now + Self.overdueAfter)
        heardFrom(index)
        return lines
    }

    /// The peer's key expired: WireGuard gets a random key until the next exchange.
    mutating func keyExpired(_ peer: PeerHandle, at now: Seconds) -> [LogLine] {
        guard peers.indices.contains(peer.index) else { return [] }
        peers[peer.index].lastFailure = ("key expired: no new key for 180 s", now)
        return [
            LogLine(
                .warning,
                "peer \(peers[peer.index].info.label): no new key for 180 s; its key is replaced by a random one until the next exchange (the tunnel carries no traffic until then)")
        ]
    }

    /// A dropped datagram that could be told to come from `peer`.
    mutating func dropped(_ reason: DropReason, detail: String, peer: PeerHandle, at now: Seconds) {
        guard peers.indices.contains(peer.index) else { return }
        peers[peer.index].lastFailure = ("datagram dropped: \(reason)\(detail.isEmpty ? "" : " (\(detail))")", now)
        peers[peer.index].evidence[reason, default: Evidence()].count += 1
        peers[peer.index].evidence[reason]!.lastDetail = detail
    }

    /// Any valid message from the peer: our InitHellos are being answered.
    private mutating func heardFrom(_ index: Int) {
        peers[index].unansweredSince = nil
        peers[index].unansweredInitHellos = 0
    }

    // MARK: - Warnings

    /// The warnings due at `now`.
    mutating func check(at now: Seconds) -> [LogLine] {
        guard now >= nextCheck else { return [] }
        var lines = [LogLine]()
        var overdue = 0
        for index in checks.takeDue(where: { $0 <= now }) where !peers[index].isRemoved {
            let state = peers[index]
            let since = state.lastKeyAt ?? state.addedAt
            let limit = state.lastKeyAt == nil ? Self.firstKeyGrace : Self.overdueAfter
            guard now - since >= limit else {
                checks.schedule(index, at: since + limit)
                continue
            }
            overdue += 1
            if overdue <= Self.warningsPerCheck { lines.append(LogLine(.warning, warning(for: state, now: now))) }
            let gap = Self.warningGaps[min(state.warnings, Self.warningGaps.count - 1)]
            peers[index].warnings += 1
            checks.schedule(index, at: now + gap)
        }
        if overdue > Self.warningsPerCheck {
            lines.append(
                LogLine(
                    .warning,
                    "\(overdue - Self.warningsPerCheck) more peers have had no key exchanged for as long; `rosenpass status` lists every peer and its last failure"
                ))
        }
        nextCheck = checks.earliest()
        return lines
    }

    /// At most this many overdue peers are described in full at one check; the rest are counted in
    /// one line, so that a gateway whose many clients are offline does not flood its log.
    static let warningsPerCheck = 16

    /// The warning for an overdue peer: what was seen, and the likely causes.
    func warning(for state: PeerState, now: Seconds) -> String {
        let info = state.info
        let name = "peer \(info.label)"
        let since = state.lastKeyAt.map { "for \(humanDuration(now - $0)) since its last key" }
            ?? "in the \(humanDuration(now - state.addedAt)) since \(state.addedAt == startedAt ? "start-up" : "it was added")"
        var seen = [String]()
        var causes = [String]()
        if let evidence = state.evidence[.versionMismatch] {
            seen.append("\(evidence.count) of its messages used the other protocol version")
            causes.append("protocol_version differs: \(info.version.rawValue) is configured here for this peer; both ends must set the same")
        }
        if let evidence = state.evidence[.authenticationFailed] {
            seen.append("\(evidence.count) of its messages failed authentication (\(evidence.lastDetail))")
            causes.append("the pre-shared keys (pre_shared_key) differ, or one end has an outdated public key of the other")
        }
        if let evidence = state.evidence[.badMAC] {
            seen.append("\(evidence.count) datagrams from its address were not addressed to our public key")
            causes.append("the peer has an old or wrong public key of ours")
        }
        if let evidence = state.evidence[.unknownPeer] {
            seen.append("\(evidence.count) InitHellos from its address came from a peer id we do not know")
            causes.append("the public key configured here for this peer is not its current one")
        }
        if state.cookieRequests > 0 {
            seen.append("it asked for cookies \(state.cookieRequests) times (it is under load)")
        }
        if info.initiates {
            if state.unansweredInitHellos > 0, let unanswered = state.unansweredSince {
                seen.append("\(state.unansweredInitHellos) InitHellos sent over \(humanDuration(now - unanswered)) got no answer")
            }
            if causes.isEmpty {
                let formats = info.configuredVariant.map {
                    "reads no McEliece \($0.shortName) (mceliece_variant = \"\($0.rawValue)\" is configured here; try the other or remove it)"
                } ?? "reads neither McEliece format we sent (round 3, round 4)"
                causes.append("the peer is down or unreachable at \(info.label.endpoint ?? "its endpoint") (firewall, wrong address or port)")
                causes.append(
                    "the peer drops our InitHellos: it does not have our current public key, it uses the other protocol_version (\(info.version.rawValue) here), or it \(formats)")
            }
        } else {
            seen.append("no endpoint is configured here, so the peer must start the handshakes")
            if causes.isEmpty {
                causes.append("the peer is down, cannot reach us, or does not have this host as its endpoint")
            }
        }
        let observed = seen.isEmpty ? "" : "; " + seen.joined(separator: "; ")
        return "\(name): no key exchanged \(since)\(observed). Likely causes: " + causes.joined(separator: "; ")
    }

    /// One line per peer for a status report (SIGUSR1): its last key, handshakes, and what is wrong.
    func statusLines(at now: Seconds) -> [String] {
        peers.filter { !$0.isRemoved }.map { state in
            var parts = [String]()
            parts.append(state.lastKeyAt.map { "last key \(humanDuration(now - $0)) ago" } ?? "no key yet")
            parts.append("\(state.handshakesCompleted) handshake\(state.handshakesCompleted == 1 ? "" : "s") completed, \(state.handshakesExpired) given up")
            if let since = state.unansweredSince, state.unansweredInitHellos > 0 {
                parts.append("\(state.unansweredInitHellos) InitHellos unanswered over \(humanDuration(now - since))")
            }
            let dropped = state.evidence.map { "\($0.key) \($0.value.count)" }.sorted()
            if !dropped.isEmpty { parts.append("its dropped datagrams: \(dropped.joined(separator: ", "))") }
            return "peer \(state.info.label): " + parts.joined(separator: "; ")
        }
    }

    private func ordinal(_ count: Int) -> String {
        switch count % 100 {
        case 11, 12, 13: return "\(count)th"
        default:
            switch count % 10 {
            case 1: return "\(count)st"
            case 2: return "\(count)nd"
            case 3: return "\(count)rd"
            default: return "\(count)th"
            }
        }
    }
}

extension McElieceVariant {
    /// `round 3` or `round 4`.
    var shortName: String { self == .round3 ? "round 3" : "round 4" }
}
