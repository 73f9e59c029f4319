// Durations in log lines.

/// `5 s` for whole seconds, `0.25 s` otherwise: how the broker's log lines state timeouts and limits.
package func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
}
