// The one error type of the broker module.

#if canImport(Glibc)
import Glibc
#endif

/// An error from the PSK broker: bad input, a failed system call, or a WireGuard backend failure.
///
/// The cases are private so that new ones can be added without breaking users; every error carries a
/// message that says what went wrong and, where there is one, which file, socket or interface.
public struct BrokerError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case malformedMessage(String)
        case frameTooLarge(length: UInt64, limit: Int)
        case system(call: String, context: String, errno: Int32)
        case invalidArgument(String)
        case policy(file: String, line: Int, message: String)
        case backend(String)
        case connectionClosed(String)
    }

    private let base: Base

    private init(_ base: Base) { self.base = base }

    /// A broker message that does not follow docs/components.md §1 (wrong length, type, code or name).
    @inline(never)
    public static func malformedMessage(_ reason: String) -> BrokerError {
        BrokerError(.malformedMessage(reason))
    }

    /// A frame header announced more bytes than the receiver accepts (docs/components.md §1.1).
    @inline(never)
    public static func frameTooLarge(length: UInt64, limit: Int) -> BrokerError {
        BrokerError(.frameTooLarge(length: length, limit: limit))
    }

    /// A system call failed. `context` names the file, socket or interface involved.
    @inline(never)
    public static func system(_ call: String, _ context: String, errno: Int32) -> BrokerError {
        BrokerError(.system(call: call, context: context, errno: errno))
    }

    /// A command-line or API argument was not acceptable.
    @inline(never)
    public static func invalidArgument(_ message: String) -> BrokerError {
        BrokerError(.invalidArgument(message))
    }

    /// A policy file could not be read or parsed.
    @inline(never)
    public static func policy(file: String, line: Int, _ message: String) -> BrokerError {
        BrokerError(.policy(file: file, line: line, message: message))
    }

    /// A WireGuard backend (netlink or UAPI) failed or answered something unexpected.
    @inline(never)
    public static func backend(_ message: String) -> BrokerError {
        BrokerError(.backend(message))
    }

    /// The other end of a broker connection went away.
    @inline(never)
    public static func connectionClosed(_ context: String) -> BrokerError {
        BrokerError(.connectionClosed(context))
    }

    /// The `errno` value of a failed system call, if this is one.
    public var systemErrno: Int32? {
        if case .system(_, _, let code) = base { return code }
        return nil
    }

    public var description: String {
        switch base {
        case .malformedMessage(let reason):
            return "malformed broker message: \(reason)"
        case .frameTooLarge(let length, let limit):
            return "broker frame of \(length) bytes exceeds the limit of \(limit) bytes"
        case .system(let call, let context, let code):
            return "\(call) failed for \(context): \(String(cString: strerror(code))) (errno \(code))"
        case .invalidArgument(let message):
            return message
        case .policy(let file, let line, let message):
            return line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)"
        case .backend(let message):
            return message
        case .connectionClosed(let context):
            return "connection closed: \(context)"
        }
    }
}
