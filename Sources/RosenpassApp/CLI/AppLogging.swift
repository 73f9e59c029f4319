// Log levels and the stderr log output of the `rosenpass` executable (`docs/components.md` §3.1).

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

    /// A logger at `level`, writing text lines (the bootstrapped handler) or, for `log_format = "json"`,
    /// one JSON object per line (``JSONLogHandler``).
    static func logger(level: Logger.Level, format: LogFormat = .text) -> Logger {
        var logger: Logger
        switch format {
        case .text: logger = Logger(label: "rosenpass")
        case .json: logger = Logger(label: "rosenpass") { JSONLogHandler(label: $0) }
        }
        logger.logLevel = level
        return logger
    }
}

/// `log_format`: how the daemon writes its log on stderr.
public enum LogFormat: String, Sendable, Equatable, CaseIterable {
    /// `2026-12-06T10:57:10+0000 notice rosenpass: message`, as swift-log writes it.
    case text
    /// One JSON object per line, for journald's and ELK's JSON parsers.
    case json
}

/// Writes each record to stderr as one line of JSON:
/// `{"time":"2026-12-06T10:57:10.123Z","level":"notice","logger":"rosenpass","message":"…"}`, plus
/// the record's metadata as string fields (never overriding those four). Each line goes out in one
/// `write`, so lines from the broker client's thread never interleave with the daemon's.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    /// Where lines go; stderr unless a test says otherwise.
    var output: @Sendable (String) -> Void = { RosenpassCLI.writeToStderr($0) }

    init(label: String) { self.label = label }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String, file: String, function: String,
        line: UInt
    ) {
        output(Self.line(time: Self.now(), level: level, label: label, message: "\(message)", metadata: self.metadata.merging(extra ?? [:]) { $1 }))
    }

    /// One record as a JSON line (ending in a newline).
    static func line(time: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var fields = [("time", time), ("level", level.rawValue), ("logger", label), ("message", message)]
        for key in metadata.keys.sorted() where !["time", "level", "logger", "message"].contains(key) {
            fields.append((key, "\(metadata[key]!)"))
        }
        return "{" + fields.map { "\(quote($0.0)):\(quote($0.1))" }.joined(separator: ",") + "}\n"
    }

    /// A JSON string: quotes, backslashes and control characters escaped.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// The wall-clock time in UTC, RFC 3339 with milliseconds.
    static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let milliseconds = Int(spec.tv_nsec / 1_000_000)
        let fraction = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
    }
}
