// Logging set-up shared by the broker executables.

import Logging

/// Logging for the broker processes: lines on stderr with a timestamp, level and label.
public enum BrokerLogging {
    /// Sends all loggers to stderr at `level` (default `info`, overridden by `ROSENPASS_LOG` or
    /// `RUST_LOG` if they name a level, as the reference's env_logger reads `RUST_LOG`).
    public static func bootstrap(defaultLevel: Logger.Level = .info) {
        var level = defaultLevel
        let environment = ["ROSENPASS_LOG", "RUST_LOG"].compactMap { (name: String) -> String? in getenv(name).map { String(cString: $0) } }.first
        if let environment, let parsed = Logger.Level(rawValue: environment.lowercased()) { level = parsed }
        let chosen = level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = chosen
            return handler
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
