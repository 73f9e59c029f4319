// Log levels and the stderr log output of the `rosenpass` executable (`components.md` §3.1).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ArgumentParser
import Logging

/// `--log-level`: the reference's level names (`off`, `error`, `warn`, `info`, `debug`, `trace`).
public enum LogLevelName: String, CaseIterable, ExpressibleByArgument, Sendable {
    case off, error, warn, info, debug, trace

    public init?(argument: String) {
        self.init(rawValue: argument.lowercased())
    }

    /// The swift-log level; `off` keeps only what can never be logged (critical).
    var level: Logger.Level {
        switch self {
        case .off: return .critical
        case .error: return .error
        case .warn: return .warning
        case .info: return .info
        case .debug: return .debug
        case .trace: return .trace
        }
    }
}

/// Where log lines go and at what level.
enum AppLogging {
    /// The level chosen on the command line, if any: `--log-level`, `-v` (info, what the reference
    /// does) or `-q` (error, what the reference's help promises). Otherwise `RUST_LOG`'s level if it
    /// names one.
    static func explicitLevel(logLevel: LogLevelName?, verbose: Bool, quiet: Bool) -> Logger.Level? {
        if let logLevel { return logLevel.level }
        if verbose { return .info }
        if quiet { return .error }
        if let raw = getenv("RUST_LOG").map({ String(cString: $0) }), let name = LogLevelName(argument: raw) {
            return name.level
        }
        return nil
    }

    /// Sends log lines to stderr. Called once per process, by the executable.
    static func bootstrap() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .trace  // each Logger sets its own level
            return handler
        }
    }

    /// A logger at `level`.
    static func logger(level: Logger.Level) -> Logger {
        var logger = Logger(label: "rosenpass")
        logger.logLevel = level
        return logger
    }
}
