// Dropped datagrams in the log, without letting a flood fill it.

import Logging
import RosenpassProtocol

/// Reports each dropped datagram with its reason at info level, up to ``linesPerWindow`` lines in
/// each ``window``; what is left out is summed up by reason when the window ends, whether or not
/// more datagrams arrive. It also keeps the totals by reason since start-up, and says when the
/// responder starts and stops answering InitHellos with cookie requests (it is under load: a flood,
/// or many peers at once).
struct DropLog {
    static let window: Seconds = 10
    static let linesPerWindow = 20
    /// How long without a CookieReply ends a stretch under load.
    static let loadQuiet: Seconds = 10
    /// How often a stretch under load is summed up while it lasts.
    static let loadSummaryInterval: Seconds = 60

    /// Datagrams dropped since start-up, by reason.
    private(set) var totals: [DropReason: Int] = [:]
    /// CookieReplies sent since start-up.
    private(set) var cookieReplies = 0
    private var windowStart: Seconds = -.infinity
    private var linesInWindow = 0
    private var suppressed: [DropReason: Int] = [:]
    /// The current stretch under load: when it began, the last CookieReply, and the count since the
    /// last summary and in all.
    private var load: (since: Seconds, last: Seconds, summarisedAt: Seconds, sinceSummary: Int, total: Int)?

    /// Notes a dropped datagram; returns the line to log now, if any. `description` is only made
    /// for a line that is logged: a flood costs no string formatting.
    mutating func dropped(_ reason: DropReason, at now: Seconds, _ description: () -> String) -> [LogLine] {
        totals[reason, default: 0] += 1
        var lines = flushDrops(at: now)
        if now - windowStart >= Self.window {
            windowStart = now
            linesInWindow = 0
        }
        if linesInWindow < Self.linesPerWindow {
            linesInWindow += 1
            lines.append(LogLine(.info, "dropped \(description()) [\(reason)]"))
        } else {
            suppressed[reason, default: 0] += 1
        }
        return lines
    }

    /// Counts a datagram dropped before it was even looked at (a flood's bulk): no line of its own;
    /// the next summary and the status report include it.
    mutating func refused(_ reason: DropReason, at now: Seconds) {
        totals[reason, default: 0] += 1
        if suppressed.isEmpty && now - windowStart >= Self.window {
            windowStart = now
            linesInWindow = 0
        }
        suppressed[reason, default: 0] += 1
    }

    /// Notes a CookieReply sent; returns a notice when this starts a stretch under load.
    mutating func cookieReplySent(at now: Seconds) -> [LogLine] {
        cookieReplies += 1
        if var stretch = load {
            stretch.last = now
            stretch.sinceSummary += 1
            stretch.total += 1
            load = stretch
            return []
        }
        load = (now, now, now, 1, 1)
        return [
            LogLine(
                .notice,
                "under load: InitHellos without a valid cookie are answered with a cookie request instead of a handshake (DoS mitigation); peers that answer it still get through")
        ]
    }

    /// When the current window's summary, or the next report on the load, is due.
    var nextSummary: Seconds? {
        var next = suppressed.isEmpty ? Seconds.infinity : windowStart + Self.window
        if let load { next = min(next, load.last + Self.loadQuiet, load.summarisedAt + Self.loadSummaryInterval) }
        return next.isFinite ? next : nil
    }

    /// The summary of the window, once it has ended, and the reports on the load that are due.
    mutating func flush(at now: Seconds) -> [LogLine] {
        var lines = [LogLine]()
        if var stretch = load {
            if now - stretch.last >= Self.loadQuiet {
                lines.append(
                    LogLine(
                        .notice,
                        "no longer under load: \(stretch.total) cookie request\(stretch.total == 1 ? "" : "s") sent over \(humanDuration(stretch.last - stretch.since))"))
                load = nil
            } else if now - stretch.summarisedAt >= Self.loadSummaryInterval {
                lines.append(LogLine(.info, "still under load: \(stretch.sinceSummary) cookie requests sent in the last \(humanDuration(now - stretch.summarisedAt))"))
                stretch.summarisedAt = now
                stretch.sinceSummary = 0
                load = stretch
            }
        }
        return lines + flushDrops(at: now)
    }

    private mutating func flushDrops(at now: Seconds) -> [LogLine] {
        guard !suppressed.isEmpty, now - windowStart >= Self.window else { return [] }
        let count = suppressed.values.reduce(0, +)
        let reasons = suppressed.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        suppressed = [:]
        return [LogLine(.info, "dropped \(count) more datagram\(count == 1 ? "" : "s") in \(humanDuration(Self.window)) (\(reasons))")]
    }
}
