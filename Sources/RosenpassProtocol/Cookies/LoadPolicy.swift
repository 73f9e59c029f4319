// When the responder is "under load" (`protocol.md` §6.2; our own rule, see docs/dos-cookies.md).

/// The rule that decides when a responder stops doing McEliece work for InitHellos that carry no
/// valid cookie and answers them with a CookieReply instead (`protocol.md` §6).
///
/// The rule is a token bucket over *expensive InitHello handlings*, fed only by the injected clock:
/// the bucket holds at most ``burst`` tokens and refills at ``handlingsPerSecond``. Every InitHello
/// whose MAC verifies and that the responder processes spends one token. While the bucket holds
/// less than one token the responder is under load: an InitHello without a valid cookie gets a
/// CookieReply (cheap: two short hashes and one XAEAD, no state change) instead of a RespHello.
///
/// Why honest peers cannot be locked out:
/// - An InitHello with a valid cookie for its sender address is always processed, even with an empty
///   bucket. An honest initiator that gets a CookieReply retransmits at once with the cookie, so it
///   completes one round trip later. An attacker that spoofs addresses never sees the cookies.
/// - Load never affects RespHello, InitConf, EmptyData or CookieReply: they are handled as usual, so
///   an overloaded node still completes its own handshakes (unlike the reference, its issue #539).
/// - Nothing but the clock refills the bucket, so load ends by itself once the flood stops.
public struct LoadPolicy: Hashable, Sendable {
    /// Whether the DoS cookies are used at all. On by default.
    public var cookiesEnabled: Bool
    /// The largest number of expensive InitHello handlings in a burst before cookies are required.
    public var burst: Double
    /// The sustained number of expensive InitHello handlings per second without cookies.
    public var handlingsPerSecond: Double

    /// A policy; the defaults allow bursts of 32 and 16 handlings per second (roughly 2–3 % of one
    /// core), orders of magnitude above what honest peers send (one handshake per peer per two
    /// minutes, plus retransmissions).
    public init(cookiesEnabled: Bool = true, burst: Double = 32, handlingsPerSecond: Double = 16) {
        precondition(burst >= 1 && handlingsPerSecond > 0, "the load budget must allow some work")
        self.cookiesEnabled = cookiesEnabled
        self.burst = burst
        self.handlingsPerSecond = handlingsPerSecond
    }

    /// The default: cookies on.
    public static let standard = LoadPolicy()
    /// Cookies off: InitHellos are always processed (the reference's default build).
    public static let cookiesDisabled = LoadPolicy(cookiesEnabled: false)
}

/// The token bucket of ``LoadPolicy``.
struct LoadMonitor: Equatable, Sendable {
    private(set) var tokens: Double
    private(set) var updatedAt: Seconds

    init(policy: LoadPolicy) {
        tokens = policy.burst
        updatedAt = TimerConstants.never
    }

    /// The number of tokens at `now` (the bucket refilled since the last update).
    func tokens(at now: Seconds, policy: LoadPolicy) -> Double {
        guard updatedAt != TimerConstants.never else { return tokens }
        let elapsed = max(0, now - updatedAt)
        return min(policy.burst, tokens + elapsed * policy.handlingsPerSecond)
    }

    /// Whether the responder is under load at `now`.
    func isUnderLoad(at now: Seconds, policy: LoadPolicy) -> Bool {
        policy.cookiesEnabled && tokens(at: now, policy: policy) < 1
    }

    /// Records one expensive handling.
    mutating func spend(at now: Seconds, policy: LoadPolicy) {
        tokens = max(0, tokens(at: now, policy: policy) - 1)
        updatedAt = max(updatedAt, now)
    }
}
