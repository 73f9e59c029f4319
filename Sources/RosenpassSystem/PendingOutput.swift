// What the control socket and the metrics listener share: an answer written to a non-blocking
// stream socket as the socket takes it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Bytes to send on a non-blocking socket, and how many are out.
struct PendingOutput {
    private(set) var bytes: [UInt8] = []
    private(set) var written = 0

    /// Whether some of the bytes are still to be sent.
    var isPending: Bool { written < bytes.count }

    /// Replaces what is to be sent.
    mutating func start(_ bytes: [UInt8]) {
        self.bytes = bytes
        written = 0
    }

    /// Sends as much as `fd` takes. Returns the number of bytes sent, or nil when the connection
    /// failed (anything but "try again later").
    mutating func send(to fd: Int32) -> Int? {
        var sent = 0
        while isPending {
            let result = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + written, raw.count - written, Int32(MSG_NOSIGNAL))
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
