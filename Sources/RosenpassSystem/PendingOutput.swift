// An answer written to a non-blocking stream socket as the socket takes it: the control socket's,
// the metrics listener's and the socket handler's clients.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Bytes to send on a non-blocking socket, and how many are out.
public struct PendingOutput: Sendable {
    public private(set) var bytes: [UInt8] = []
    public private(set) var written = 0

    /// Nothing to send yet.
    public init() {}

    /// Whether some of the bytes are still to be sent.
    public var isPending: Bool { written < bytes.count }

    /// Replaces what is to be sent.
    public mutating func start(_ bytes: [UInt8]) {
        self.bytes = bytes
        written = 0
    }

    /// Adds `more` after what is still to be sent.
    public mutating func append(_ more: [UInt8]) {
        bytes.removeFirst(written)
        written = 0
        bytes += more
    }

    /// Sends as much as `fd` takes. Returns the number of bytes sent, or nil when the connection
    /// failed (anything but "try again later"; `errno` says why).
    public mutating func send(to fd: Int32) -> Int? {
        var sent = 0
        while isPending {
            let result = bytes.withUnsafeBytes { raw in
                sendWithoutSignal(fd, raw.baseAddress! + written, raw.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK ? sent : nil
            }
            written += result
            sent += result
        }
        bytes = []
        written = 0
        return sent
    }
}

/// send(2) with MSG_NOSIGNAL (a closed peer gives EPIPE, not SIGPIPE); a function of its own because
/// inside ``PendingOutput`` the name `send` is the method.
private func sendWithoutSignal(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    send(fd, pointer, count, Int32(MSG_NOSIGNAL))
}
