// The client end of the control socket, used by `rosenpass status` and `rosenpass metrics`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassBroker
import RosenpassSystem

/// Sends one request to a running daemon and reads its answer.
public enum ControlClient {
    /// Where the daemon's control socket is when neither the command line nor a configuration says.
    public static let defaultPath = "/run/rosenpass/rosenpass.sock"

    /// Sends `request` to the daemon at `path` and returns its response.
    ///
    /// - Parameter timeout: seconds to wait for the daemon at each step.
    /// - Throws: ``AppError`` saying what went wrong in the user's terms (no daemon, no permission, no answer).
    public static func send(_ request: ControlRequest, to path: String, timeout: Int = 10) throws(AppError) -> ControlResponse {
        let fd: Int32
        do {
            fd = try UnixSocket.connect(path: path)
        } catch {
            if let code = (error as? SystemError)?.errno {
                if code == ENOENT || code == ECONNREFUSED {
                    throw .runtime(
                        "no rosenpass daemon answers at \(path): \(String(cString: strerror(code))) (is control_socket set in its configuration, and is it running?)")
                }
                if code == EACCES || code == EPERM {
                    throw .runtime(
                        "not allowed to use the control socket \(path): \(String(cString: strerror(code))) (it is for the daemon's user, or its control_socket_group)")
                }
            }
            throw .runtime("cannot connect to the control socket \(path): \(error)")
        }
        defer { close(fd) }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let frame = LengthPrefixedFrames.encode(request.encodedPayload)
        do {
            try POSIX.writeAll(fd, frame, context: "control socket \(path)")
        } catch {
            throw .runtime("cannot send the request to \(path): \(error)")
        }
        let header = try readExactly(fd, 8, path: path)
        var length: UInt64 = 0
        for (index, byte) in header.enumerated() { length |= UInt64(byte) << (8 * UInt64(index)) }
        guard length <= UInt64(ControlProtocol.maximumResponse) else {
            throw .runtime("the daemon at \(path) announced an answer of \(length) bytes; that is not a control response")
        }
        return try ControlResponse(decoding: readExactly(fd, Int(length), path: path))
    }

    private static func readExactly(_ fd: Int32, _ count: Int, path: String) throws(AppError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let result = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, count - filled) }
            if result < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw .runtime("the daemon at \(path) did not answer in time") }
                throw .system("read", "control socket \(path)", errno: errno)
            }
            if result == 0 { throw .runtime("the daemon at \(path) closed the connection before its answer was complete") }
            filled += result
        }
        return bytes
    }
}
