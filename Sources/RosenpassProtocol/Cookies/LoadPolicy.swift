// When the responder is "under load" (`docs/protocol.md` §6.2; our own rule, see docs/dos-cookies.md).

/// The rule that decides when a responder stops doing McEliece work for InitHellos that carry no
/// valid cookie and answers them with a CookieReply instead (`docs/protocol.md` §6).
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
///
/// A cookie proves only that its sender receives at its address, so a sender that solves cookies
/// could still have every one of its InitHellos processed. Under load each *source* (the daemon
/// passes the sender's IPv4 address, or the /64 of its IPv6 address) therefore also has a bucket of
/// ``sourceBurst`` tokens refilling at ``sourceHandlingsPerSecond``: an InitHello from a source whose
/// bucket is empty is dropped before any cryptography. Every expensive handling spends a token from
/// its source's bucket too, with or without load, so a sender that was busy before the load began
/// starts with an empty bucket. An honest peer, one handshake every two minutes, never empties its own.
public struct LoadPolicy: Hashable, Sendable {
    /// Whether the DoS cookies are used at all. On by default.
    public var cookiesEnabled: Bool
    /// The largest number of expensive InitHello handlings in a burst before cookies are required.
    public var burst: Double
    /// The sustained number of expensive InitHello handlings per second without cookies.
    public var handlingsPerSecond: Double
    /// Per source under load: the largest burst of expensive handlings.
    public var sourceBurst: Double
    /// Per source under load: the sustained expensive handlings per second.
    public var sourceHandlingsPerSecond: Double
    /// The most sources whose buckets are kept. Buckets that have filled up again are forgotten
    /// first; when the table is full of busy sources, a new source's InitHellos wait under load.
    public var trackedSources: Int
    /// What each configured peer adds to ``handlingsPerSecond`` (and twice that to ``burst``): a
    /// gateway's honest peers alone would otherwise keep it under load. 1/30 a second is four
    /// times what one peer needs, one handshake every two minutes (docs/scaling.md).
    public var handlingsPerSecondPerPeer: Double

    /// A policy; the defaults allow bursts of 32 and 16 handlings per second (roughly 2–3 % of one
    /// core), orders of magnitude above what honest peers send (one handshake per peer per two
    /// minutes, plus retransmissions), and per source under load a burst of 8 and 2 per second.
    public init(
        cookiesEnabled: Bool = true, burst: Double = 32, handlingsPerSecond: Double = 16,
        sourceBurst: Double = 8, sourceHandlingsPerSecond: Double = 2, trackedSources: Int = 65_536,
        handlingsPerSecondPerPeer: Double = 1.0 / 30
    ) {
        precondition(burst >= 1 && handlingsPerSecond > 0, "the load budget must allow some work")
        precondition(sourceBurst >= 1 && sourceHandlingsPerSecond > 0 && trackedSources > 0, "each source must be allowed some work")
        self.cookiesEnabled = cookiesEnabled
        self.burst = burst
        self.handlingsPerSecond = handlingsPerSecond
        self.sourceBurst = sourceBurst
        self.sourceHandlingsPerSecond = sourceHandlingsPerSecond
        self.trackedSources = trackedSources
        self.handlingsPerSecondPerPeer = handlingsPerSecondPerPeer
    }

    /// The policy for a server with `peers` peers: the global budget grows with
    /// ``handlingsPerSecondPerPeer`` once that exceeds the fixed one (beyond 480 peers by default);
    /// the per-source budgets stay.
    public func scaled(toPeers peers: Int) -> LoadPolicy {
        var scaled = self
        scaled.handlingsPerSecond = max(handlingsPerSecond, Double(peers) * handlingsPerSecondPerPeer)
        scaled.burst = max(burst, 2 * scaled.handlingsPerSecond)
        return scaled
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

/// A sender as a unit of the per-source budget under load (``LoadPolicy``): the daemon makes one
/// from the IPv4 address, or the /64 prefix of the IPv6 address, never the port. Two machine words,
/// so the check on every datagram of a flood allocates nothing.
public struct SourceKey: Hashable, Sendable {
    let family: UInt8
    let bits: UInt64

    /// An IPv4 sender.
    public init(ipv4 address: UInt32) {
        family = 4
        bits = UInt64(address)
    }

    /// An IPv6 sender, by the first 64 bits of its address.
    public init(ipv6Prefix prefix: UInt64) {
        family = 6
        bits = prefix
    }

    /// A sender known only by an opaque identifier (tests, other transports): a 64-bit FNV-1a hash.
    public init(identifier bytes: [UInt8]) {
        family = 0
        bits = bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}

/// The per-source token buckets of ``LoadPolicy`` (``LoadPolicy/sourceBurst``).
struct SourceBudgets: Equatable, Sendable {
    private struct Bucket: Equatable, Sendable {
        var tokens: Double
        var updatedAt: Seconds
    }

    private var buckets: [SourceKey: Bucket] = [:]
    /// When full buckets were last forgotten.
    private var prunedAt = TimerConstants.never

    var count: Int { buckets.count }

    private func tokens(_ bucket: Bucket, at now: Seconds, policy: LoadPolicy) -> Double {
        min(policy.sourceBurst, bucket.tokens + max(0, now - bucket.updatedAt) * policy.sourceHandlingsPerSecond)
    }

    /// Whether `source` may have an InitHello handled at `now`: at least one token, or unknown
    /// and there is room to track it.
    func allows(_ source: SourceKey, at now: Seconds, policy: LoadPolicy) -> Bool {
        if let bucket = buckets[source] { return tokens(bucket, at: now, policy: policy) >= 1 }
        return buckets.count < policy.trackedSources || hasFullBucket(at: now, policy: policy)
    }

    /// Records one expensive handling for `source`.
    mutating func spend(_ source: SourceKey, at now: Seconds, policy: LoadPolicy) {
        if buckets[source] == nil && buckets.count >= policy.trackedSources { prune(at: now, policy: policy) }
        let current = buckets[source].map { tokens($0, at: now, policy: policy) } ?? policy.sourceBurst
        guard buckets[source] != nil || buckets.count < policy.trackedSources else { return }
        buckets[source] = Bucket(tokens: max(0, current - 1), updatedAt: now)
    }

    /// Forgets the buckets that have filled up again (they mean the same as no bucket), at most once
    /// a second.
    private mutating func prune(at now: Seconds, policy: LoadPolicy) {
        guard now - prunedAt >= 1 else { return }
        prunedAt = now
        buckets = buckets.filter { tokens($0.value, at: now, policy: policy) < policy.sourceBurst }
    }

    /// Whether some bucket has filled up again, so that pruning would make room. Only asked when the
    /// table is full.
    private func hasFullBucket(at now: Seconds, policy: LoadPolicy) -> Bool {
        now - prunedAt >= 1 && buckets.values.contains { tokens($0, at: now, policy: policy) >= policy.sourceBurst }
    }
}
