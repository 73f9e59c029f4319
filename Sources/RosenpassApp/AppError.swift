// The one error type of the application module.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An error from the `rosenpass` application: a configuration, key file, command line or run-time
/// problem.
///
/// Every error names the file (and, for configurations, the line and key) it is about and says what
/// was wrong, so that the message alone is enough to fix it. The cases are private so that new ones
/// can be added; ``isUsageError`` tells command-line mistakes (exit status 2) from run-time failures
/// (exit status 1), as `docs/components.md` §3 requires.
public struct AppError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case config(file: String, line: Int?, message: String)
        case keyFile(file: String, message: String)
        case system(call: String, file: String, errno: Int32)
        case usage(String)
        case runtime(String)
    }

    private let base: Base

    private init(_ base: Base) { self.base = base }

    /// A configuration file is malformed or violates the schema of `docs/components.md` §4.
    ///
    /// - Parameters:
    ///   - file: the configuration file, as the user named it.
    ///   - line: the 1-based line of the offending key or value, when known.
    ///   - message: what is wrong, naming the key.
    @inline(never)
    public static func config(file: String, line: Int? = nil, _ message: String) -> AppError {
        AppError(.config(file: file, line: line, message: message))
    }

    /// A key, PSK or key-output file is unusable (size, encoding or permissions, `docs/components.md` §5).
    @inline(never)
    public static func keyFile(_ file: String, _ message: String) -> AppError {
        AppError(.keyFile(file: file, message: message))
    }

    /// A system call failed on `file` (a path, an address or another object the call was about).
    @inline(never)
    public static func system(_ call: String, _ file: String, errno: Int32) -> AppError {
        AppError(.system(call: call, file: file, errno: errno))
    }

    /// The command line is wrong (exit status 2).
    @inline(never)
    public static func usage(_ message: String) -> AppError {
        AppError(.usage(message))
    }

    /// Something failed while running (exit status 1).
    @inline(never)
    public static func runtime(_ message: String) -> AppError {
        AppError(.runtime(message))
    }

    /// Whether this is a command-line mistake, reported with exit status 2.
    public var isUsageError: Bool {
        if case .usage = base { return true }
        return false
    }

    /// The `errno` of a failed system call, if this is one.
    public var systemErrno: Int32? {
        if case .system(_, _, let code) = base { return code }
        return nil
    }

    public var description: String {
        switch base {
        case .config(let file, let line, let message):
            if let line { return "\(file):\(line): \(message)" }
            return "\(file): \(message)"
        case .keyFile(let file, let message):
            return "\(file): \(message)"
        case .system(let call, let file, let code):
            // "(os error N)" as the reference prints it; its tests look for e.g. "Is a directory (os error 21)".
            let text = "\(file): \(call) failed: \(String(cString: strerror(code))) (os error \(code))"
            // Permission denied: say who was denied. Under a unit with DynamicUser= that user exists
            // only while the unit runs, and a folder on the way (not the file) is the usual cause.
            guard code == EACCES else { return text }
            return "\(text); user \(geteuid()) may not open it or search a folder on its way"
        case .usage(let message):
            return message
        case .runtime(let message):
            return message
        }
    }
}

/// Runs `body` under an API whose `rethrows` erases the error type (such as `withUnsafeBytes`),
/// and gives back the ``AppError`` it threw.
@inline(__always)
func withAppErrors<T>(_ body: () throws -> T) throws(AppError) -> T {
    do {
        return try body()
    } catch let error as AppError {
        throw error
    } catch {
        throw .runtime("\(error)")
    }
}
