// Protocol timing constants (`docs/protocol.md` §5.1).

/// Seconds on a monotonic clock that the caller reads; the core never reads a clock itself.
public typealias Seconds = Double

/// The timing constants of `docs/protocol.md` §5.1, in seconds.
public enum TimerConstants {
    /// A session made in the responder role triggers a new initiation after this long.
    public static let rekeyAfterTimeResponder: Seconds = 120
    /// A session made in the initiator role triggers a new initiation after this long.
    public static let rekeyAfterTimeInitiator: Seconds = 130
    /// A session is deleted ("stale") and an initiator handshake given up after this long.
    public static let rejectAfterTime: Seconds = 180
    /// A biscuit key issues biscuits for this long, then only decrypts for as long again.
    public static let biscuitEpoch: Seconds = 300
    /// A cookie secret is young for this long and retired for as long again.
    public static let cookieSecretEpoch: Seconds = 120
    /// Base retransmission delay.
    public static let retransmitDelayBegin: Seconds = 0.5
    /// Growth factor of the nominal retransmission delay.
    public static let retransmitDelayGrowth: Double = 2
    /// Upper limit of the nominal retransmission delay.
    public static let retransmitDelayEnd: Seconds = 10
    /// Jitter factor: the actual delay is `nominal * 0.5 * (1 + U)`, i.e. 50–100 % of nominal.
    public static let retransmitDelayJitter: Double = 0.5
    /// An event at `t` counts as reached when `t - now < eventGrace`.
    public static let eventGrace: Seconds = 0.0025
    /// The InitConf response cache keeps an entry for this long.
    public static let responseCacheLifetime: Seconds = 120
    /// After two handshakes crossed, the end that outranks the other starts a repair handshake this
    /// long after it accepted the crossing InitConf (`Peer-Collisions.swift`). Not in the reference.
    public static let collisionRepairDelay: Seconds = 1
    /// The same for the end that does not outrank: later, so that two of our nodes do not both repair.
    public static let collisionRepairDelayOutranked: Seconds = 3
    /// Two keys for one peer made this close together, one in each role, count as crossed handshakes
    /// even when the handshakes did not overlap here: go-rosenpass may apply them in either order.
    public static let crossingWindow: Seconds = 0.5
    /// Up to this much is added to either repair delay at random.
    public static let collisionRepairJitter: Seconds = 0.5
    /// "Sleep forever": the longest wait ``CryptoServer/poll(now:entropy:)`` returns.
    public static let unending: Seconds = 28_800
    /// The time stamp of something that never happened.
    static let never: Seconds = -.infinity
}

/// Whether the event time `time` has been reached at `now` (with the grace of §5.1).
@inline(__always)
func reached(_ time: Seconds, _ now: Seconds) -> Bool { time - now < TimerConstants.eventGrace }

/// The retransmission schedule of an initiator handshake (`docs/protocol.md` §5.4).
struct RetransmissionSchedule: Equatable, Sendable {
    /// How many times the schedule has been advanced since the stored message was last replaced.
    private(set) var count = 0
    /// When the stored message is due again.
    private(set) var retryAt: Seconds = TimerConstants.never

    /// The nominal delay before retransmission number `count + 1`: `0.5 * 2^min(log2(20), count)`.
    static func nominalDelay(afterCount count: Int) -> Seconds {
        let cap = (TimerConstants.retransmitDelayEnd / TimerConstants.retransmitDelayBegin).binaryLogarithm
        return TimerConstants.retransmitDelayBegin
            * libmPow(TimerConstants.retransmitDelayGrowth, min(cap, Double(count)))
    }

    /// Starts over for a newly stored message (IHI, ICI) and schedules the first retransmission.
    mutating func restart(now: Seconds, jitter: Double) {
        count = 0
        advance(now: now, jitter: jitter)
    }

    /// Schedules the next retransmission: `now + nominal * 0.5 * (1 + U)`.
    mutating func advance(now: Seconds, jitter: Double) {
        let nominal = Self.nominalDelay(afterCount: count)
        retryAt = now + nominal * TimerConstants.retransmitDelayJitter * (1 + jitter)
        count += 1
    }

    /// Retransmits at once (after a CookieReply, §5.4).
    mutating func retransmitImmediately(now: Seconds) {
        retryAt = now
        count += 1
    }
}

extension Double {
    /// `log2(self)`, for the cap of the nominal delay (log2(20) ≈ 4.32).
    fileprivate var binaryLogarithm: Double { libmLog2(self) }
}
