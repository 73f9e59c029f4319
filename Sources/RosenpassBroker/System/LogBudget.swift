// A bound on how many lines one kind of event may log, so that a client sending junk as fast as it
// can cannot fill the journal (the brokers used to log ~20,000 lines a second under such a client).

/// Lets through at most `linesPerWindow` lines per `window` seconds; the lines held back are counted
/// and reported once the window is over, by the next line or by ``summary(now:)``.
///
/// Pure: the caller passes the (monotonic) time, so tests need no clock.
public struct LogBudget: Sendable {
    /// Length of a window in seconds.
    public let window: Double
    /// Lines let through per window.
    public let linesPerWindow: Int
    private var windowStart = -Double.infinity
    private var linesInWindow = 0
    private var suppressed = 0

    /// Creates a budget (10 lines per 10 s unless told otherwise).
    public init(window: Double = 10, linesPerWindow: Int = 10) {
        self.window = window
        self.linesPerWindow = linesPerWindow
    }

    /// Notes an event at `now`. Returns the line to log, or nil when it is held back. A line that
    /// follows held-back ones says how many there were.
    public mutating func admit(_ line: @autoclosure () -> String, now: Double) -> String? {
        if now - windowStart >= window {
            windowStart = now
            linesInWindow = 0
        }
        guard linesInWindow < linesPerWindow else {
            suppressed += 1
            return nil
        }
        linesInWindow += 1
        guard suppressed > 0 else { return line() }
        defer { suppressed = 0 }
        return "\(line()) (and \(suppressed) more like it before, not logged)"
    }

    /// Once the window in which lines were held back is over: the line saying how many (then nil
    /// until more are held back). Call it from a loop that wakes at least every ``nextSummaryAt``.
    public mutating func summary(now: Double, describing what: String) -> String? {
        guard suppressed > 0, now - windowStart >= window else { return nil }
        defer {
            suppressed = 0
            windowStart = -Double.infinity
        }
        return "\(suppressed) more \(what) in \(formatSeconds(window)) were not logged"
    }

    /// When ``summary(now:describing:)`` will have something to say, if it will.
    public var nextSummaryAt: Double? {
        suppressed > 0 ? windowStart + window : nil
    }
}
