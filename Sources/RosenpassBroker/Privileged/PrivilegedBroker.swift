// The privileged broker's logic: decode a request, check the policy, call the backend, answer,
// and keep the fail-closed timers. No I/O of its own besides the backend, so tests drive it directly.

import Logging
import RosenpassSystem

/// The request handler of `rosenpass-wireguard-broker-privileged` (docs/components.md §2.1, §10.4).
///
/// Every request gets exactly one response, malformed ones included (the reference dropped them and
/// wedged every client, §1.5). Requests the policy refuses are answered with ``BrokerReturnCode/internalError``
/// (0x01) and logged: 0x01 is the code every existing client (the Rust one too) understands as "the
/// broker did not install it", while a new code would make the reference client report an invalid
/// message; the reason is in the broker's log, where the operator needs it. Each installed PSK is
/// logged with interface, peer and time, never the key.
///
/// Fail closed (`maxKeyAge`): every (interface, peer) that got a key, and every pair of the policy's
/// `peer` rules from start-up on, must get a fresh key within `maxKeyAge` seconds; otherwise its PSK is
/// replaced with a random one (and the replacement logged), so a dead or captured key-exchange host
/// cannot keep an old key in force. After a replacement the pair waits for its next real key.
public final class PrivilegedBroker {
    private let backend: WireGuardBackend
    /// The allow-list in force.
    public let policy: BrokerPolicy
    /// The fail-closed limit in seconds, if any.
    public let maxKeyAge: Double?
    private var logger: Logger
    private let clock: () -> Double
    private var watchdog: KeyAgeWatchdog
    /// Refused requests are logged at most 10 per 10 s: a client sending junk as fast as it can
    /// must not fill the journal.
    private var refusals = LogBudget()

    /// Creates the handler.
    /// - Parameters:
    ///   - backend: where PSKs go (normally ``AutomaticWireGuardBackend``).
    ///   - policy: the allow-list.
    ///   - maxKeyAge: seconds after which a key that was not refreshed is replaced by a random one.
    ///   - logger: receives the audit lines (stderr in the executable).
    ///   - clock: monotonic seconds; injectable for tests.
    public init(backend: WireGuardBackend, policy: BrokerPolicy = BrokerPolicy(), maxKeyAge: Double? = nil,
                logger: Logger, clock: @escaping () -> Double = POSIX.monotonicNow) {
        self.backend = backend
        self.policy = policy
        self.maxKeyAge = maxKeyAge
        self.logger = logger
        self.clock = clock
        self.watchdog = KeyAgeWatchdog(maxKeyAge: maxKeyAge)
    }

    /// Start-up work: re-arms fail-closed timers carried over from a previous broker process, arms the
    /// timer of every explicitly allowed peer and, when
    /// `randomizeAllowedPeers` is set, installs a random PSK on each of them right away (the
    /// whitepaper's random initial PSK, docs/components.md §10.4 item 5).
    public func start(randomizeAllowedPeers: Bool, carriedOver: [CarriedOverKeyTimer] = []) {
        let now = clock()
        // Timers of a previous broker process (passed by the socket handler when it restarts us), so
        // that a restart cannot extend a key's life beyond the limit.
        for timer in carriedOver where maxKeyAge != nil && policy.permits(interface: timer.pair.interface, peer: timer.pair.peer) {
            watchdog.arm(timer.pair, deadline: now + max(0, timer.remainingSeconds))
        }
        for allowed in policy.peers {
            let pair = PeerOnInterface(interface: allowed.interface, peer: allowed.peer)
            if randomizeAllowedPeers {
                installRandom(pair, reason: "start-up (--random-psk-at-start)")
            } else if watchdog.deadlines[pair] == nil {
                watchdog.arm(pair, now: now)
            }
        }
    }

    /// Handles one request payload (the bytes after the length prefix) and returns the response.
    public func handle(payload: UnsafeRawBufferPointer) -> SetPskResponse {
        let request: SetPskRequest
        do {
            request = try SetPskRequest(decodingPayload: payload)
        } catch {
            refused("refused a malformed request: \(error)")
            return SetPskResponse(.internalError)
        }
        return handle(request)
    }

    /// Handles a decoded request.
    public func handle(_ request: SetPskRequest) -> SetPskResponse {
        let pair = PeerOnInterface(interface: request.interface, peer: request.peer)
        guard policy.permits(interface: request.interface, peer: request.peer) else {
            refused("refused: interface \(quoted(request.interface)) peer \(request.peer) is not in the allow-list (answering InternalError)")
            return SetPskResponse(.internalError)
        }
        let outcome = backend.setPresharedKey(request.presharedKey, peer: request.peer, interface: request.interface)
        switch outcome {
        case .installed:
            logger.notice("installed PSK on interface \(request.interface) for peer \(request.peer) at \(POSIX.utcTimestamp())")
            watchdog.arm(pair, now: clock())
        case .noSuchInterface:
            refused("no WireGuard interface \(quoted(request.interface)) (answering NoSuchInterface)")
        case .noSuchPeer:
            refused("interface \(request.interface) has no peer \(request.peer); peers are never added (answering NoSuchPeer)")
        case .failed(let message):
            logger.error("setting the PSK failed: \(message) (answering InternalError)")
        }
        return SetPskResponse(outcome.returnCode)
    }

    /// When the next fail-closed check is due (monotonic seconds), if any.
    public var nextDeadline: Double? { watchdog.nextDeadline }

    /// When ``wake()`` has work (monotonic seconds): a fail-closed check, or the count of refusals
    /// that were not logged.
    public var nextWake: Double? {
        [watchdog.nextDeadline, refusals.nextSummaryAt].compactMap { $0 }.min()
    }

    /// Does what is due: replaces stale keys (``expireStaleKeys()``) and logs how many refusals were
    /// held back. Call when ``nextWake`` has passed (calling earlier does no harm).
    public func wake() {
        expireStaleKeys()
        if let summary = refusals.summary(now: clock(), describing: "refused requests") { logger.warning("\(summary)") }
    }

    /// Logs a refusal within the budget (10 lines per 10 s, then a count).
    public func refused(_ line: @autoclosure () -> String) {
        if let line = refusals.admit(line(), now: clock()) { logger.warning("\(line)") }
    }

    /// Replaces the PSK of every pair whose key is older than `maxKeyAge`. Call when ``nextDeadline``
    /// has passed.
    public func expireStaleKeys() {
        for pair in watchdog.expired(now: clock()) {
            installRandom(pair, reason: "no fresh key within \(formatSeconds(maxKeyAge ?? 0)) (--max-key-age)")
        }
    }

    private func installRandom(_ pair: PeerOnInterface, reason: String) {
        let outcome = backend.setPresharedKey(PresharedKey.random(), peer: pair.peer, interface: pair.interface)
        switch outcome {
        case .installed:
            logger.notice("replaced the PSK of peer \(pair.peer) on interface \(pair.interface) with a random one at \(POSIX.utcTimestamp()): \(reason)")
            watchdog.replaced(pair)
        case .noSuchInterface, .noSuchPeer:
            logger.warning("could not set a random PSK for peer \(pair.peer) on \(pair.interface) (\(outcome.returnCode)); it holds no key to protect, no longer watching it")
            watchdog.forget(pair)
        case .failed(let message):
            logger.error("could not set a random PSK for peer \(pair.peer) on \(pair.interface): \(message); retrying in 5 s")
            watchdog.retry(pair, at: clock() + 5)
        }
    }

    private func quoted(_ name: String) -> String {
        "\"" + name.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined() + "\""
    }
}

/// A fail-closed timer handed from one privileged broker process to the next
/// (`--carry-over-timer IF:PUBKEY_B64:SECONDS`).
public struct CarriedOverKeyTimer: Hashable, Sendable {
    /// The pair whose key is watched.
    public var pair: PeerOnInterface
    /// Seconds left before its key must be replaced (0 or less: at once).
    public var remainingSeconds: Double

    /// Creates a timer.
    public init(pair: PeerOnInterface, remainingSeconds: Double) {
        self.pair = pair
        self.remainingSeconds = remainingSeconds
    }

    /// Parses `IF:PUBKEY_B64:SECONDS`.
    /// - Throws: ``BrokerError/invalidArgument(_:)`` when the form, name, key or number is wrong.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, WireGuardInterfaceName.isValid(parts[0]), let peer = WireGuardPublicKey(base64: parts[1]),
              let seconds = Double(parts[2]), seconds.isFinite else {
            throw BrokerError.invalidArgument("--carry-over-timer wants IF:PUBKEY_B64:SECONDS, got \"\(text)\"")
        }
        self.init(pair: PeerOnInterface(interface: parts[0], peer: peer), remainingSeconds: seconds)
    }

    /// The `IF:PUBKEY_B64:SECONDS` form.
    public var argument: String {
        "\(pair.interface):\(pair.peer.base64):\(format3(remainingSeconds))"
    }
}

private func format3(_ value: Double) -> String {
    let millis = Int((max(0, value) * 1000).rounded(.up))
    return "\(millis / 1000).\(String(repeating: "0", count: 3 - String(millis % 1000).count))\(millis % 1000)"
}

/// The fail-closed timers as a value: which pairs must be refreshed by when.
struct KeyAgeWatchdog {
    let maxKeyAge: Double?
    private(set) var deadlines: [PeerOnInterface: Double] = [:]

    init(maxKeyAge: Double?) { self.maxKeyAge = maxKeyAge }

    /// A key was installed (or the pair is allowed from start-up): it must be refreshed within the limit.
    mutating func arm(_ pair: PeerOnInterface, now: Double) {
        guard let maxKeyAge else { return }
        deadlines[pair] = now + maxKeyAge
    }

    /// A timer carried over from a previous process: the key must be refreshed by `deadline`.
    mutating func arm(_ pair: PeerOnInterface, deadline: Double) {
        guard maxKeyAge != nil else { return }
        deadlines[pair] = deadline
    }

    /// The stale key was replaced by a random one: nothing to protect until the next real key.
    mutating func replaced(_ pair: PeerOnInterface) { deadlines[pair] = nil }

    mutating func forget(_ pair: PeerOnInterface) { deadlines[pair] = nil }

    mutating func retry(_ pair: PeerOnInterface, at time: Double) {
        guard maxKeyAge != nil else { return }
        deadlines[pair] = time
    }

    var nextDeadline: Double? { deadlines.values.min() }

    /// The pairs whose deadline has passed, oldest first.
    func expired(now: Double) -> [PeerOnInterface] {
        deadlines.filter { $0.value <= now }.sorted { $0.value < $1.value }.map(\.key)
    }
}
