// The one error type of the system module.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed system call, or an argument a system interface cannot take (a socket path too long for
/// `sockaddr_un`, a file in the way of a socket). Each names the call and what it was about.
public struct SystemError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case failed(call: String, context: String, errno: Int32)
        case unusable(String)
    }

    private let base: Base

    private init(_ base: Base) { self.base = base }

    /// `call` failed with `errno`; `context` names the file, socket, process or interface involved.
    @inline(never)
    public static func failed(_ call: String, _ context: String, errno: Int32) -> SystemError {
        SystemError(.failed(call: call, context: context, errno: errno))
    }

    /// Not a failed call: what was asked cannot be done, and `message` says why.
    @inline(never)
    public static func unusable(_ message: String) -> SystemError {
        SystemError(.unusable(message))
    }

    /// The `errno` value of a failed call, if this is one.
    public var errno: Int32? {
        if case .failed(_, _, let code) = base { return code }
        return nil
    }

    public var description: String {
        switch base {
        case .failed(let call, let context, let code):
            return "\(call) failed for \(context): \(String(cString: strerror(code))) (errno \(code))"
        case .unusable(let message):
            return message
        }
    }
}
