// Dropped datagrams in the log, without letting a flood fill it.

import Logging
import RosenpassProtocol

/// Reports each dropped datagram with its reason at info level, up to ``linesPerWindow`` lines in
/// each ``window``; what is left out is summed up by reason when the window ends, whether or not
/// more datagrams arrive. It also keeps the totals by reason since start-up.
struct DropLog {
    static let window: Seconds = 10
    static let linesPerWindow = 20

    /// Datagrams dropped since start-up, by reason.
    private(set) var totals: [DropReason: Int] = [:]
    private var windowStart: Seconds = -.infinity
    private var linesInWindow = 0
    private var suppressed: [DropReason: Int] = [:]

    /// Notes a dropped datagram; returns the line to log now, if any.
    mutating func dropped(_ reason: DropReason, _ description: String, at now: Seconds) -> [LogLine] {
        totals[reason, default: 0] += 1
        var lines = flush(at: now)
        if now - windowStart >= Self.window {
            windowStart = now
            linesInWindow = 0
        }
        if linesInWindow < Self.linesPerWindow {
            linesInWindow += 1
            lines.append(LogLine(.info, "dropped \(description) [\(reason)]"))
        } else {
            suppressed[reason, default: 0] += 1
        }
        return lines
    }

    /// When the current window's summary is due, if anything was left out.
    var nextSummary: Seconds? { suppressed.isEmpty ? nil : windowStart + Self.window }

    /// The summary of the window, once it has ended.
    mutating func flush(at now: Seconds) -> [LogLine] {
        guard !suppressed.isEmpty, now - windowStart >= Self.window else { return [] }
        let count = suppressed.values.reduce(0, +)
        let reasons = suppressed.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        suppressed = [:]
        return [LogLine(.info, "dropped \(count) more datagram\(count == 1 ? "" : "s") in \(humanDuration(Self.window)) (\(reasons))")]
    }
}
