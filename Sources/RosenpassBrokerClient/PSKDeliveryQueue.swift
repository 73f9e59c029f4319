// The broker client's state without its I/O: each peer's current key, the request in flight, the
// connection's phase, and the reconnect and retry timers (docs/ARCHITECTURE.md, "One key").

import RosenpassBroker

/// What a ``PSKBrokerClient`` knows and decides, as a value: which key each peer should have and
/// where its delivery stands, which request is in flight, whether the link to the broker is up, and
/// when to reconnect, retry or give up waiting.
///
/// It does no I/O and reads no clock: the client's thread passes `now` (seconds on
/// `POSIX.timerClock`) with every event, so tests drive it with a fake clock and check back-off,
/// retries and time-outs exactly. The rules it keeps:
///
/// * only a peer's newest key is ever sent; a key replaced while its request is in flight is sent
///   again (as the newer key) once the answer arrives;
/// * after every (re)connect every peer's current key is sent again, oldest change first, one at a
///   time;
/// * an error answer is retried after `initialRetryDelay`, doubling to `maximumRetryDelay`;
/// * a failed or lost connection is retried after `initialBackoff`, doubling to `maximumBackoff`; the
///   back-off starts over only when the broker answers, so a link that accepts connections and drops
///   them is not retried in a tight loop.
package struct PSKDeliveryQueue: Sendable {
    /// The phase of the connection to the broker.
    package enum Link: Sendable, Equatable {
        /// No connection; the next attempt is due at `reconnectAt`.
        case down(reconnectAt: Double)
        /// Connected since `since`; `used` says whether a request was sent on it.
        case up(since: Double, used: Bool)
        /// The broker cannot be reached again (an inherited fd or in-process pipe closed).
        case gone
    }

    /// One request to send: the peer, its current key, and the key's generation (to match the answer).
    package struct Request: Sendable {
        package var pair: PeerOnInterface
        package var key: PresharedKey
        package var generation: UInt64
    }

    /// How to treat a connection the broker closed.
    package enum Closing: Sendable, Equatable {
        /// The socket handler closed an idle connection on which nothing was ever sent (its idle
        /// timeout): routine; reconnect at once.
        case idle
        /// The broker is lost; reconnect after `delay` seconds (nil: it cannot be reconnected).
        case lost(delay: Double?)
    }

    private struct Entry: Sendable {
        var key: PresharedKey
        var generation: UInt64
        var state: PSKDeliveryState
        var order: UInt64
        var retryAt: Double = 0
        var retryDelay: Double
    }

    private struct InFlight: Sendable {
        var pair: PeerOnInterface
        var generation: UInt64
        var since: Double
    }

    private let options: PSKBrokerClient.Options
    /// Whether a lost connection can be made again (a socket path or a spawned process), as opposed to
    /// an inherited fd or `rp`'s pipes.
    private let reconnectable: Bool
    /// Whether an idle connection closed by the broker is routine (a socket handler's idle timeout).
    private let idleCloseIsRoutine: Bool
    private var entries: [PeerOnInterface: Entry] = [:]
    private var nextOrder: UInt64 = 0
    private var inFlight: InFlight?
    private var backoff: Double
    /// The connection's phase.
    package private(set) var link: Link = .down(reconnectAt: 0)

    /// A queue with no keys, due to connect at once.
    package init(options: PSKBrokerClient.Options, reconnectable: Bool, idleCloseIsRoutine: Bool) {
        self.options = options
        self.reconnectable = reconnectable
        self.idleCloseIsRoutine = idleCloseIsRoutine
        backoff = options.initialBackoff
    }

    // MARK: - Keys

    /// Makes `key` the current key of `pair`. An older key not sent yet is dropped; one in flight is
    /// answered as before, and the new key follows.
    package mutating func setKey(_ key: PresharedKey, for pair: PeerOnInterface) {
        nextOrder += 1
        if var entry = entries[pair] {
            entry.key = key
            entry.generation += 1
            if entry.state != .sent { entry.state = .pending }
            entry.order = nextOrder
            entry.retryAt = 0
            entry.retryDelay = options.initialRetryDelay
            entries[pair] = entry
        } else {
            entries[pair] = Entry(key: key, generation: 1, state: .pending, order: nextOrder,
                                  retryDelay: options.initialRetryDelay)
        }
    }

    /// Where the current key of `pair` stands, or nil if it has none.
    package func state(of pair: PeerOnInterface) -> PSKDeliveryState? {
        entries[pair]?.state
    }

    // MARK: - The connection

    /// Whether a connection attempt is due.
    package func wantsConnection(now: Double) -> Bool {
        if case .down(let reconnectAt) = link { return now >= reconnectAt }
        return false
    }

    /// A connection is up: every peer's current key will be sent again.
    package mutating func connected(now: Double) {
        link = .up(since: now, used: false)
        inFlight = nil
        for pair in entries.keys {
            entries[pair]!.state = .pending
            entries[pair]!.retryAt = 0
        }
    }

    /// A connection attempt failed, or the connection broke (a failed write or read, no answer in
    /// time, a malformed or unasked-for answer). The request in flight, if any, is sent again on the
    /// next connection. Returns the seconds until the next attempt, or nil when the broker cannot be
    /// reached again.
    package mutating func connectionLost(now: Double) -> Double? {
        lose(now: now)
    }

    /// The broker closed the connection; `buffered` bytes of an answer had arrived.
    package mutating func closedByBroker(now: Double, buffered: Int) -> Closing {
        if idleCloseIsRoutine, case .up(let since, let used) = link, !used, buffered == 0,
           now - since >= options.idleConnectionAge {
            link = .down(reconnectAt: now)
            inFlight = nil
            return .idle
        }
        return .lost(delay: lose(now: now))
    }

    /// The client stops: nothing more is sent (the link is marked gone, keys stay as they are).
    package mutating func stop() {
        link = .gone
        inFlight = nil
    }

    private mutating func lose(now: Double) -> Double? {
        if let inFlight, entries[inFlight.pair]?.state == .sent {
            entries[inFlight.pair]!.state = .pending
        }
        inFlight = nil
        guard reconnectable else {
            link = .gone
            return nil
        }
        let delay = backoff
        link = .down(reconnectAt: now + delay)
        backoff = min(backoff * 2, options.maximumBackoff)
        return delay
    }

    // MARK: - Requests and answers

    /// The next request to send, if the link is up and nothing is in flight: the key changed longest
    /// ago among those pending or due for a retry. It is then in flight.
    package mutating func nextRequest(now: Double) -> Request? {
        guard case .up(let since, _) = link, inFlight == nil else { return nil }
        let ready = entries.filter { _, entry in
            switch entry.state {
            case .pending: return true
            case .failed: return entry.retryAt <= now
            case .sent, .delivered: return false
            }
        }
        guard let (pair, entry) = ready.min(by: { $0.value.order < $1.value.order }) else { return nil }
        entries[pair]!.state = .sent
        inFlight = InFlight(pair: pair, generation: entry.generation, since: now)
        link = .up(since: since, used: true)
        return Request(pair: pair, key: entry.key, generation: entry.generation)
    }

    /// The broker answered `code`. Returns the event to report, or nil when no request was in flight
    /// (the connection cannot be trusted then: call ``connectionLost(now:)``).
    package mutating func answered(_ code: BrokerReturnCode, now: Double) -> PSKBrokerClientEvent? {
        guard let sent = inFlight else { return nil }
        inFlight = nil
        backoff = options.initialBackoff
        if var entry = entries[sent.pair] {
            let current = entry.generation == sent.generation
            if code == .success {
                entry.state = current ? .delivered : .pending
                entry.retryDelay = options.initialRetryDelay
            } else if current {
                entry.state = .failed(code)
                entry.retryAt = now + entry.retryDelay
                entry.retryDelay = min(entry.retryDelay * 2, options.maximumRetryDelay)
            } else {
                entry.state = .pending  // a newer key is waiting: send it rather than retry the old one
            }
            entries[sent.pair] = entry
        }
        return code == .success
            ? .delivered(interface: sent.pair.interface, peer: sent.pair.peer)
            : .failed(interface: sent.pair.interface, peer: sent.pair.peer, code: code)
    }

    /// Whether the request in flight has waited longer than `responseTimeout`.
    package func answerOverdue(now: Double) -> Bool {
        guard let inFlight else { return false }
        return now - inFlight.since > options.responseTimeout
    }

    /// When something is next due without any input (a reconnect, an answer's deadline, a retry), or
    /// nil when only new keys or answers can make progress.
    package func nextDeadline() -> Double? {
        switch link {
        case .gone:
            return nil
        case .down(let reconnectAt):
            return reconnectAt
        case .up:
            if let inFlight { return inFlight.since + options.responseTimeout }
            return entries.values.compactMap { entry -> Double? in
                if case .failed = entry.state { return entry.retryAt }
                return nil
            }.min()
        }
    }
}
